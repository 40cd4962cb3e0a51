#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Create, resize or delete a VPS as a libvirt domain (SOP 20, 21, 22)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vps_domain
short_description: Create, resize or delete a VPS domain on a libvirt host
description:
  - O(action=create) makes a qcow2 overlay of the golden image in the storage pool, sized
    O(disk_gb), defines a direct-kernel-boot domain whose kernel command line carries the
    VPS's identity (host name, address, gateway, SSH keys), starts it and waits for SSH.
    The guest NIC is a QEMU user-mode NIC whose network is the VPS's NetBox prefix, with
    SSH forwarded from 127.0.0.1 only.
  - O(action=resize) grows or shrinks vCPUs and memory and grows the disk. Within the
    domain's maxima it is done live and in the persistent config (setvcpus/setmem
    --live --config, blockresize, then resize2fs in the guest over SSH); beyond them, or to
    shrink vCPUs, the domain is shut down, changed and started again.
  - O(action=delete) destroys and undefines the domain and removes its overlay.
  - Check mode computes the same changes, reports them with a diff, and touches nothing.
options:
  action: {description: 'What to do with the domain.', type: str, required: true, choices: [create, resize, delete]}
  name: {description: 'Domain name (the VPS name).', type: str, required: true}
  uri: {description: 'libvirt connection URI of the host.', type: str, default: 'qemu:///system'}
  pool: {description: 'Storage pool that holds the overlay disk.', type: str, default: default}
  golden_image: {description: 'qcow2 golden image the overlay is backed by (O(action=create)).', type: path}
  kernel: {description: 'Kernel for the direct kernel boot (O(action=create)).', type: path}
  initrd: {description: 'Initrd for the direct kernel boot (O(action=create)).', type: path}
  vcpus: {description: 'vCPUs of the VPS.', type: int, default: 1}
  memory_mb: {description: 'Memory of the VPS, in MiB.', type: int, default: 512}
  disk_gb: {description: 'Root disk size in GB; a resize only grows it.', type: int, default: 10}
  max_vcpus: {description: 'Maximum vCPUs of the domain; a resize within it is done live.', type: int, default: 4}
  max_memory_mb: {description: 'Maximum memory of the domain in MiB; a resize within it is done live.', type: int, default: 2048}
  address: {description: 'The VPS''s IPv4 address with prefix length (CIDR), from NetBox; required for O(action=create).', type: str, default: ''}
  gateway: {description: 'Gateway address given to the guest.', type: str, default: ''}
  dns: {description: 'DNS server address given to the guest.', type: str, default: ''}
  network: {description: 'Accepted for compatibility and not used; the guest network is taken from O(address).', type: str, default: ''}
  ssh_keys: {description: 'Public SSH keys installed for the guest''s administrator.', type: list, elements: str, default: []}
  admin_key: {description: 'Private key the module logs in with (wait for SSH, resize2fs).', type: path}
  ssh_port: {description: 'Loopback port forwarded to the guest''s SSH; 0 picks a free one.', type: int, default: 0}
  wait_timeout: {description: 'Seconds to wait for SSH after a start.', type: int, default: 240}
  description: {description: 'Text kept in the domain''s description.', type: str, default: ''}
author: sop-runner contributors
"""

RETURN = r"""
before: {description: allocation before (vcpus, memory_mb, disk_gb, state), type: dict, returned: always}
after: {description: allocation after, type: dict, returned: always}
modes: {description: per dimension, live or offline (resize), type: dict, returned: always}
ssh_port: {description: loopback port forwarded to the guest's SSH, type: int, returned: always}
boot_seconds: {description: seconds from start to SSH (create), type: float, returned: when started}
"""

import base64
import ipaddress
import os
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.vps_libvirt import (
    LAB_MARK,
    SOP_NS,
    VirshError,
    disk_gb,
    inspect,
    ssh,
    state,
    virsh,
    wait_ssh,
)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pool_path(uri, pool):
    root = ET.fromstring(virsh(uri, "pool-dumpxml", pool))
    return root.findtext("./target/path")


def _domain_xml(p, overlay, port):
    net = ipaddress.ip_interface(p["address"]).network
    guest = str(ipaddress.ip_interface(p["address"]).ip)
    keys = base64.b64encode(("\n".join(p["ssh_keys"]) + "\n").encode()).decode()
    cmdline = (f"root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet sop.hostname={p['name']} "
               f"sop.ip={p['address']} sop.gw={p['gateway']} sop.dns={p['dns']} sop.keys={keys}")
    netdev = (f"user,id=sopnet,restrict=on,net={net},host={p['gateway']},dns={p['dns']},"
              f"hostfwd=tcp:127.0.0.1:{port}-{guest}:22")
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(p['name'])}</name>
  <description>{LAB_MARK} vps {escape(p['description'])}</description>
  <metadata>
    <sop:vps xmlns:sop='{SOP_NS}'>
      <ssh_port>{port}</ssh_port>
      <address>{p['address']}</address>
      <gateway>{p['gateway']}</gateway>
    </sop:vps>
  </metadata>
  <memory unit='MiB'>{max(p['max_memory_mb'], p['memory_mb'])}</memory>
  <currentMemory unit='MiB'>{p['memory_mb']}</currentMemory>
  <vcpu placement='static' current='{p['vcpus']}'>{max(p['max_vcpus'], p['vcpus'])}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{p['kernel']}</kernel>
    <initrd>{p['initrd']}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='{overlay}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'><log file='{overlay}.console.log' append='off'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='{netdev}'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='virtio-net-pci,netdev=sopnet,addr=0x9'/>
  </qemu:commandline>
</domain>
"""


def _spec(p):
    return {"vcpus": p["vcpus"], "memory_mb": p["memory_mb"], "disk_gb": p["disk_gb"]}


def _current(uri, name):
    st = state(uri, name)
    if st == "absent":
        return {"state": "absent"}, None
    info = inspect(uri, name)
    cur = {"vcpus": info["vcpus"], "memory_mb": info["memory_mb"], "disk_gb": disk_gb(info["disk_path"]),
           "state": st}
    return cur, info


def _start_and_wait(module, uri, name, port):
    virsh(uri, "start", name)
    try:
        return wait_ssh(port, module.params["admin_key"], module.params["wait_timeout"])
    except TimeoutError as exc:
        module.fail_json(msg=f"VPS {name} started but {exc}; console log beside its disk in the pool")
        return None


def _create(module, uri, p, cur, info, result):
    if cur["state"] != "absent":
        result["ssh_port"] = int(info["metadata"].get("ssh_port") or 0)
        if cur["state"] != "running":
            result["changed"] = True
            if not module.check_mode:
                result["boot_seconds"] = _start_and_wait(module, uri, p["name"], result["ssh_port"])
        return
    result["changed"] = True
    if module.check_mode:
        return
    for req in ("golden_image", "kernel", "initrd", "admin_key"):
        if not p[req] or not os.path.exists(p[req]):
            module.fail_json(msg=f"{req}={p[req]!r} does not exist; start the hypervisor lab (it builds the image)")
    pool_dir = _pool_path(uri, p["pool"])
    overlay = os.path.join(pool_dir, f"{p['name']}.qcow2")
    if not os.path.exists(overlay):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", p["golden_image"], overlay,
                        f"{p['disk_gb']}G"], check=True, capture_output=True)
    port = p["ssh_port"] or _free_port()
    xml_path = overlay + ".xml"
    with open(xml_path, "w", encoding="utf-8") as fh:
        fh.write(_domain_xml(p, overlay, port))
    virsh(uri, "define", xml_path)
    virsh(uri, "pool-refresh", p["pool"], check=False)
    result["ssh_port"] = port
    result["boot_seconds"] = _start_and_wait(module, uri, p["name"], port)


def _shutdown(uri, name, timeout=60):
    if state(uri, name) != "running":
        return
    virsh(uri, "shutdown", name, check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(uri, name) != "running":
            return
        time.sleep(1)
    virsh(uri, "destroy", name, check=False)


def _resize(module, uri, p, cur, info, result):
    name = p["name"]
    if cur["state"] == "absent":
        module.fail_json(msg=f"VPS {name} does not exist on {uri}: nothing to resize")
    # 0 keeps the current value (SOP 22: "leave empty to keep the current value").
    want = {k: v or cur[k] for k, v in _spec(p).items()}
    result["want"] = want
    if want["disk_gb"] < cur["disk_gb"]:
        module.fail_json(msg=f"VPS {name}: disk cannot shrink ({cur['disk_gb']} GB -> {want['disk_gb']} GB)")
    running = cur["state"] == "running"
    modes = {}
    if want["vcpus"] != cur["vcpus"]:
        modes["vcpus"] = "live" if running and cur["vcpus"] < want["vcpus"] <= info["max_vcpus"] else "offline"
    if want["memory_mb"] != cur["memory_mb"]:
        modes["memory_mb"] = "live" if running and want["memory_mb"] <= info["max_memory_mb"] else "offline"
    if want["disk_gb"] != cur["disk_gb"]:
        modes["disk_gb"] = "live" if running else "offline"
    if not running:
        modes = dict.fromkeys(modes, "offline")
    result["modes"] = modes
    result["ssh_port"] = int(info["metadata"].get("ssh_port") or 0)
    result["changed"] = bool(modes)
    if module.check_mode or not modes:
        return
    offline = "offline" in modes.values()
    if offline:
        _shutdown(uri, name)
    scope = ["--config"] if offline or not running else ["--live", "--config"]
    if "vcpus" in modes:
        if want["vcpus"] > info["max_vcpus"]:
            virsh(uri, "setvcpus", name, want["vcpus"], "--maximum", "--config")
        virsh(uri, "setvcpus", name, want["vcpus"], *scope)
    if "memory_mb" in modes:
        if want["memory_mb"] > info["max_memory_mb"]:
            virsh(uri, "setmaxmem", name, f"{want['memory_mb']}M", "--config")
        virsh(uri, "setmem", name, f"{want['memory_mb']}M", *scope)
    if "disk_gb" in modes:
        if offline or not running:
            subprocess.run(["qemu-img", "resize", "-q", info["disk_path"], f"{want['disk_gb']}G"], check=True,
                           capture_output=True)
        else:
            virsh(uri, "blockresize", name, "vda", f"{want['disk_gb']}G")
            proc = ssh(result["ssh_port"], p["admin_key"], "resize2fs /dev/vda", timeout=120)
            if proc.returncode != 0:
                module.fail_json(msg=f"VPS {name}: resize2fs in the guest failed: {proc.stderr.strip()}")
    if offline and running:
        # The first-boot unit grows the file system on boot.
        result["boot_seconds"] = _start_and_wait(module, uri, name, result["ssh_port"])


def _delete(module, uri, p, cur, info, result):
    if cur["state"] == "absent":
        return
    result["changed"] = True
    result["ssh_port"] = int(info["metadata"].get("ssh_port") or 0)
    if module.check_mode:
        return
    if cur["state"] == "running":
        virsh(uri, "destroy", p["name"], check=False)
    virsh(uri, "undefine", p["name"])
    for path in (info["disk_path"], info["disk_path"] + ".xml", info["disk_path"] + ".console.log"):
        if path and os.path.exists(path):
            os.remove(path)
    virsh(uri, "pool-refresh", p["pool"], check=False)


def main():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True, "choices": ["create", "resize", "delete"]},
            "name": {"type": "str", "required": True},
            "uri": {"type": "str", "default": "qemu:///system"},
            "pool": {"type": "str", "default": "default"},
            "golden_image": {"type": "path"},
            "kernel": {"type": "path"},
            "initrd": {"type": "path"},
            "vcpus": {"type": "int", "default": 1},
            "memory_mb": {"type": "int", "default": 512},
            "disk_gb": {"type": "int", "default": 10},
            "max_vcpus": {"type": "int", "default": 4},
            "max_memory_mb": {"type": "int", "default": 2048},
            "address": {"type": "str", "default": ""},
            "gateway": {"type": "str", "default": ""},
            "dns": {"type": "str", "default": ""},
            "network": {"type": "str", "default": ""},
            "ssh_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "admin_key": {"type": "path"},
            "ssh_port": {"type": "int", "default": 0},
            "wait_timeout": {"type": "int", "default": 240},
            "description": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    uri = p["uri"]
    if p["action"] == "create" and not p["address"]:
        module.fail_json(msg="action=create needs address (CIDR from NetBox) and gateway")
    result = {"changed": False, "modes": {}, "ssh_port": 0}
    try:
        cur, info = _current(uri, p["name"])
        result["before"] = cur
        {"create": _create, "resize": _resize, "delete": _delete}[p["action"]](module, uri, p, cur, info, result)
    except (VirshError, subprocess.CalledProcessError, OSError) as exc:
        module.fail_json(msg=f"VPS {p['name']}: {exc}", **result)
    if p["action"] == "delete":
        after = {"state": "absent"}
    elif module.check_mode or not result["changed"]:
        after = {**result.get("want", _spec(p)), "state": "running"} if p["action"] == "create" or cur[
            "state"] != "absent" else cur
    else:
        after, _info = _current(uri, p["name"])
    result["after"] = after
    if module._diff:  # noqa: SLF001 - Ansible's own flag for --diff
        strip = {k: v for k, v in cur.items()}
        result["diff"] = {"before": strip, "after": {k: v for k, v in after.items()}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
