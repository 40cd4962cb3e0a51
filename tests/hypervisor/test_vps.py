"""SOP 20-22 on the real hypervisor lab and NetBox: create, SSH in, resize, delete.

One VM for the whole module (a TCG boot costs 40-80 s on 2 shared cores); the tests run in
file order and each checks NetBox against libvirt and the guest. SOP 20 creates it and SOP 21
deletes it through RunService, from request to closed, with the lab personas.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hv_helpers import destroy_domain, run_playbook, unique_name

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.lab import hypervisor
from sop_runner.service import audit
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.hypervisor, pytest.mark.netbox, pytest.mark.usefixtures("hypervisor_lab", "netbox_env")]
TENANT, PREFIX = "dinkes", "10.30.110.0/24"


@pytest.fixture(scope="module")
def vm(hypervisor_lab: hypervisor.HypervisorStatus, requester_key: Path) -> Iterator[dict[str, Any]]:
    """The module's VM request; the domain is destroyed at the end whatever happened."""
    name = unique_name("vps-t")
    spec = {"vps_name": name, "vps_tenant": TENANT, "vps_vcpus": 1, "vps_memory_mb": 512, "vps_disk_gb": 10,
            "vps_ssh_public_key": requester_key.with_suffix(".pub").read_text().strip()}
    yield spec
    destroy_domain(name)


def _virsh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", hypervisor.URI, *args], capture_output=True, text=True, check=False)


def _ssh(port: int, key: Path, cmd: str) -> str:
    proc = subprocess.run(["ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes", "-o",
                           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                           "root@127.0.0.1", cmd], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _nb_vm(api: Any, name: str) -> Any:
    return api.virtualization.virtual_machines.get(name=name)


def _ssh_port(name: str) -> int:
    found = re.search(r"ssh_port>(\d+)<", _virsh("dumpxml", name).stdout)
    assert found, f"{name} has no ssh_port in its metadata"
    return int(found.group(1))


def test_create_plan_changes_nothing_and_shows_capacity(vm: dict[str, Any], netbox_api: Any) -> None:
    res = run_playbook("sop20_vps_create.yml", vm, check=True)
    assert res.rc == 0, res.failures
    plan = res.plan
    assert plan["action"] == "create" and plan["name"] == vm["vps_name"]
    assert plan["address"].endswith("/24") and plan["prefix"] == PREFIX
    cap = plan["host_capacity"]
    assert cap["after"]["vcpus"] == cap["before"]["vcpus"] + 1
    assert cap["after"]["memory_mb"] == cap["before"]["memory_mb"] + 512
    assert cap["limit"]["vcpus"] == cap["host"]["cpus"] * 4
    assert res.changed >= 2
    assert _nb_vm(netbox_api, vm["vps_name"]) is None, "a plan must not write to NetBox"
    assert _virsh("dominfo", vm["vps_name"]).returncode != 0, "a plan must not define a domain"


def test_sop20_request_to_closed_creates_the_vps(sop_service: RunService, vm: dict[str, Any], netbox_api: Any,
                                                 requester_key: Path) -> None:
    svc, name = sop_service, vm["vps_name"]
    run_id = svc.request("wonosobo-20", "agus.dinkes", {
        "skpd": TENANT, "hostname": name, "vcpus": 1, "memory_mb": 512, "disk_gb": 10, "os": "debian",
        "os_version": "12", "purpose": "SIMPUS", "justification": "Aplikasi puskesmas",
        "ssh_public_key": vm["vps_ssh_public_key"]}).run_id
    svc.complete(run_id, "budi.teknis", note="utilisasi host dievaluasi")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[6].stats["sop_plan"]
    # Step 2's evaluation is part of what Staf approves at row 3: host capacity before and after.
    cap = sop_plan["host_capacity"]
    assert cap["after"]["vcpus"] == cap["before"]["vcpus"] + 1
    assert cap["after"]["memory_mb"] == cap["before"]["memory_mb"] + 512
    planned = sop_plan["address"]
    assert planned.startswith("10.30.110.")
    assert _nb_vm(netbox_api, name) is None, "the plan must not write"
    svc.approve(run_id, "dewi.staf", True, "justifikasi layak, rencana disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.apply(run_id, "budi.teknis")
    nb = _nb_vm(netbox_api, name)
    assert nb.status.value == "active" and nb.tenant.slug == TENANT and nb.cluster.name == "clu-wonosobo-01"
    assert (nb.vcpus, nb.memory, nb.disk) == (1, 512, 10000)
    assert nb.primary_ip4.address == planned and run_id in nb.description
    assert [ip.address for ip in netbox_api.ipam.ip_addresses.filter(virtual_machine_id=nb.id)] == [planned]
    # The requester's own key logs in; the guest knows its name and NetBox's address.
    out = _ssh(_ssh_port(name), requester_key, "hostname; ip -4 -o addr show dev eth0")
    assert out.split()[0] == name and planned in out
    assert "running" in _virsh("domstate", name).stdout
    svc.complete(run_id, "budi.teknis", note="laporan rekap")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert {"berita_acara_pembuatan", "laporan_rekap", "berita_acara_permintaan"} <= set(state.documents)
    token = os.environ["NETBOX_TOKEN"]
    assert not [p for p in svc.cfg.home.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert audit.verify(svc.cfg, svc.store)[1] == []


def test_second_apply_and_plan_change_nothing(vm: dict[str, Any]) -> None:
    res = run_playbook("sop20_vps_create.yml", vm)
    assert res.rc == 0, res.failures
    assert res.changed == 0
    res = run_playbook("sop20_vps_create.yml", vm, check=True)
    assert res.rc == 0 and res.changed == 0


def test_resize_too_large_is_refused_at_plan_time_with_numbers(vm: dict[str, Any]) -> None:
    res = run_playbook("sop22_vps_resize.yml", {**vm, "vps_vcpus": 32}, check=True)
    assert res.rc != 0
    msg = " ".join(res.failures)
    assert "overcommitted" in msg
    cpus = int(_virsh("nodeinfo").stdout.split("CPU(s):")[1].split()[0])
    assert f"> {cpus * 4} ({cpus} CPUs x ratio 4" in msg, msg
    res = run_playbook("sop22_vps_resize.yml", {**vm, "vps_memory_mb": 1024, "vps_host_memory_mb": 1000,
                                                "vps_overcommit_memory_ratio": 1.0}, check=True)
    assert res.rc != 0
    assert "memory" in " ".join(res.failures) and "> 1000 MB" in " ".join(res.failures)


def test_resize_live_cpu_memory_disk_seen_in_guest(vm: dict[str, Any], netbox_api: Any,
                                                   requester_key: Path) -> None:
    want = {**vm, "vps_vcpus": 2, "vps_memory_mb": 768, "vps_disk_gb": 12}
    plan = run_playbook("sop22_vps_resize.yml", want, check=True)
    assert plan.rc == 0, plan.failures
    assert plan.plan["modes"] == {"vcpus": "live", "memory_mb": "live", "disk_gb": "live"}
    assert plan.plan["before"]["vcpus"] == 1 and plan.plan["after"]["vcpus"] == 2
    port = _ssh_port(vm["vps_name"])
    boot_id = _ssh(port, requester_key, "cat /proc/sys/kernel/random/boot_id")
    res = run_playbook("sop22_vps_resize.yml", want)
    assert res.rc == 0, res.failures
    out = _ssh(port, requester_key, "cat /proc/sys/kernel/random/boot_id; nproc; "
               "awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo; df -B1M --output=size / | tail -1")
    new_boot, nproc, mem, disk = out.split()
    assert new_boot == boot_id.strip(), "a live resize must not reboot the guest"
    assert int(nproc) == 2
    assert 768 * 0.7 <= int(mem) <= 768
    assert int(disk) > 11 * 1024
    nb = _nb_vm(netbox_api, vm["vps_name"])
    assert (nb.vcpus, nb.memory, nb.disk) == (2, 768, 12000)
    assert "<currentMemory unit='KiB'>786432</currentMemory>" in _virsh("dumpxml", "--inactive", vm["vps_name"]).stdout
    again = run_playbook("sop22_vps_resize.yml", want)
    assert again.rc == 0 and again.changed == 0
    vm.update(want)


def test_resize_beyond_live_ceiling_goes_offline(vm: dict[str, Any], requester_key: Path) -> None:
    # Above the balloon ceiling (vps_max_memory_mb at creation, 2048) and a vCPU shrink: one reboot.
    want = {**vm, "vps_vcpus": 1, "vps_memory_mb": 2304}
    plan = run_playbook("sop22_vps_resize.yml", want, check=True)
    assert plan.rc == 0, plan.failures
    assert plan.plan["modes"] == {"vcpus": "offline", "memory_mb": "offline"}
    res = run_playbook("sop22_vps_resize.yml", want)
    assert res.rc == 0, res.failures
    out = _ssh(_ssh_port(vm["vps_name"]), requester_key, "nproc; awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo")
    nproc, mem = (int(x) for x in out.split())
    assert nproc == 1
    assert 2304 * 0.7 <= mem <= 2304
    vm.update({"vps_vcpus": 1, "vps_memory_mb": 2304})


def test_sop21_request_to_closed_deletes_the_vps(sop_service: RunService, vm: dict[str, Any],
                                                 netbox_api: Any) -> None:
    svc, name = sop_service, vm["vps_name"]
    address = _nb_vm(netbox_api, name).primary_ip4.address
    # Another SKPD cannot have it deleted: refused at plan time, nothing touched.
    other = run_playbook("sop21_vps_delete.yml", {**vm, "vps_tenant": "bkd"}, check=True)
    assert other.rc != 0 and f"VM {name} belongs to {TENANT}, not bkd" in " ".join(other.failures)
    run_id = svc.request("wonosobo-21", "agus.dinkes", {"skpd": TENANT, "hostname": name,
                                                         "justification": "Aplikasi dipindah"}).run_id
    svc.complete(run_id, "budi.teknis", note="dievaluasi")
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[6].stats["sop_plan"]
    assert plan["released"] == [address] and plan["domain_before"]["state"] == "running"
    assert "running" in _virsh("domstate", name).stdout, "a plan must not delete"
    svc.approve(run_id, "dewi.staf", True, "penghapusan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.apply(run_id, "budi.teknis")
    assert _virsh("dominfo", name).returncode != 0
    assert not list(hypervisor.HypervisorPaths.default().pool.glob(f"{name}.qcow2*"))
    nb = _nb_vm(netbox_api, name)
    assert nb.status.value == "decommissioning" and nb.primary_ip4 is None
    assert not list(netbox_api.ipam.ip_addresses.filter(address=address))
    svc.complete(run_id, "budi.teknis", note="laporan rekap")
    assert svc.state(run_id).status is RunStatus.CLOSED
    again = run_playbook("sop21_vps_delete.yml", vm)
    assert again.rc == 0 and again.changed == 0
