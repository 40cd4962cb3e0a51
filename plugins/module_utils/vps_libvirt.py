# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""libvirt through ``virsh`` for the VPS modules (SOP 20-22), and SSH into guests.

``virsh`` rather than libvirt-python: it is in every libvirt install, needs no compiled
binding in the controller's venv, and has the live-resize verbs (setvcpus, setmem,
blockresize) community.libvirt lacks.
"""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET

# The lab's domains are marked so `hypervisor down` touches only them.
LAB_MARK = "sop-runner-lab"
SOP_NS = "https://sop-runner.example/vps/1"


class VirshError(Exception):
    """A virsh call failed; the message carries its stderr."""


def virsh(uri, *args, check=True, timeout=120):
    """Run ``virsh -c uri args``; return stdout."""
    proc = subprocess.run(["virsh", "-c", uri, *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise VirshError(f"virsh {' '.join(str(a) for a in args[:3])}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def exists(uri, name):
    proc = subprocess.run(["virsh", "-c", uri, "dominfo", name], capture_output=True, text=True, check=False)
    return proc.returncode == 0


def state(uri, name):
    """'running', 'shut off', … or 'absent'."""
    if not exists(uri, name):
        return "absent"
    return virsh(uri, "domstate", name).strip()


def inspect(uri, name, *, live=True):
    """The allocation of a defined domain: vcpus, max_vcpus, memory_mb, max_memory_mb, disk, metadata."""
    flags = [] if live else ["--inactive"]
    root = ET.fromstring(virsh(uri, "dumpxml", *flags, name))
    vcpu = root.find("vcpu")
    max_vcpus = int(vcpu.text)
    vcpus = int(vcpu.get("current", max_vcpus))
    if live and state(uri, name) == "running":
        # The live count, which may differ from the XML while hot-plug settles.
        out = virsh(uri, "vcpucount", name, "--live", "--active", check=False).strip()
        if out.isdigit():
            vcpus = int(out)
    # Memory from the persistent config: the live currentMemory moves with the balloon and
    # reads e.g. 853 MB for a 384 MB VM until the guest's driver has inflated it.
    conf = root if not live else ET.fromstring(virsh(uri, "dumpxml", "--inactive", name))
    mem = conf.find("memory")
    cur = conf.find("currentMemory")
    max_memory_mb = _to_mib(int(mem.text), mem.get("unit", "KiB"))
    memory_mb = _to_mib(int(cur.text), cur.get("unit", "KiB")) if cur is not None else max_memory_mb
    disk = root.find("./devices/disk/source")
    meta = {}
    node = root.find(f"./metadata/{{{SOP_NS}}}vps")
    if node is not None:
        meta = {child.tag.split("}")[-1]: (child.text or "") for child in node}
    return {
        "vcpus": vcpus,
        "max_vcpus": max_vcpus,
        "memory_mb": memory_mb,
        "max_memory_mb": max_memory_mb,
        "disk_path": disk.get("file") if disk is not None else "",
        "metadata": meta,
    }


def _to_mib(value, unit):
    factor = {"KiB": 1 / 1024, "k": 1 / 1024, "MiB": 1, "M": 1, "GiB": 1024, "G": 1024, "b": 1 / 1048576,
              "bytes": 1 / 1048576}
    return int(round(value * factor.get(unit, 1 / 1024)))


def disk_gb(path):
    """Virtual size of a qcow2 in whole GiB (0 when the file is missing)."""
    proc = subprocess.run(["qemu-img", "info", "--force-share", "--output=json", path], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return 0
    import json

    return int(json.loads(proc.stdout)["virtual-size"] // (1024 ** 3))


def node_capacity(uri):
    """(cpus, memory_mb) of the hypervisor.

    CPUs from ``virsh nodeinfo``; memory from ``virsh nodememstats`` (MemTotal): nodeinfo's
    "Memory size" is the NUMA cell's and moved between 8 and 13 GB within minutes on the lab
    host, which changed plans between plan and apply.
    """
    cpus = 0
    for line in virsh(uri, "nodeinfo").splitlines():
        key, _, val = line.partition(":")
        if key.strip() == "CPU(s)":
            cpus = int(val.split()[0])
    mem_kib = 0
    for line in virsh(uri, "nodememstats").splitlines():
        key, _, val = line.partition(":")
        if key.strip() == "total":
            mem_kib = int(val.split()[0])
    return cpus, mem_kib // 1024


def allocations(uri):
    """{name: {vcpus, memory_mb, state}} of every domain on the host, from its persistent config."""
    out = virsh(uri, "list", "--all", "--name")
    result = {}
    for name in (n.strip() for n in out.splitlines()):
        if not name:
            continue
        try:
            info = inspect(uri, name, live=False)
        except (VirshError, ET.ParseError):
            continue
        result[name] = {"vcpus": info["vcpus"], "memory_mb": info["memory_mb"], "state": state(uri, name)}
    return result


def ssh(port, key, command, *, timeout=20, user="root"):
    """Run ``command`` in a guest over the loopback hostfwd; return CompletedProcess."""
    return subprocess.run(
        ["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={min(timeout, 10)}",
         f"{user}@127.0.0.1", command],
        capture_output=True, text=True, timeout=timeout, check=False)


def wait_ssh(port, key, timeout):
    """Seconds until ``true`` succeeds over SSH; raises TimeoutError with the last error."""
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        try:
            proc = ssh(port, key, "true", timeout=15)
        except subprocess.TimeoutExpired:
            last = "ssh timed out"
        else:
            if proc.returncode == 0:
                return round(time.monotonic() - t0, 1)
            last = proc.stderr.strip()
        time.sleep(1)
    raise TimeoutError(f"no SSH on 127.0.0.1:{port} after {timeout} s (last: {last or 'no answer'})")


def guest_facts(port, key):
    """hostname, nproc, MemTotal (MiB), root fs size (GiB, 1 decimal) and addresses seen inside the guest."""
    cmd = ("hostname; nproc; awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo; "
           "df -B1 --output=size / | tail -1; ip -4 -o addr show dev eth0 | awk '{print $4}'")
    proc = ssh(port, key, cmd, timeout=30)
    if proc.returncode != 0:
        raise VirshError(f"ssh to 127.0.0.1:{port} failed: {proc.stderr.strip()}")
    lines = proc.stdout.split("\n")
    return {
        "hostname": lines[0].strip(),
        "vcpus": int(lines[1]),
        "memory_mb": int(lines[2]),
        "root_gb": round(int(lines[3]) / 1024 ** 3, 1),
        "addresses": [ln.strip() for ln in lines[4:] if ln.strip()],
    }
