"""SOP 20 (Pembuatan VPS) from request to closed through RunService, on the real lab."""

from __future__ import annotations

import os
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

pytestmark = [pytest.mark.hypervisor, pytest.mark.netbox, pytest.mark.usefixtures("hypervisor_lab")]


@pytest.fixture
def hostname() -> Iterator[str]:
    name = unique_name("vps-sop20")
    yield name
    destroy_domain(name)
    run_playbook("sop21_vps_delete.yml", {"vps_name": name})


def test_sop20_request_to_closed_creates_the_vps(sop_service: RunService, hostname: str, netbox_api: Any,
                                                 requester_key: Path) -> None:
    svc = sop_service
    run_id = svc.request("wonosobo-20", "agus.dinkes", {
        "skpd": "dinkes", "hostname": hostname, "vcpus": 1, "memory_mb": 512, "disk_gb": 10, "os": "debian",
        "os_version": "12", "purpose": "SIMPUS", "justification": "Aplikasi puskesmas",
        "ssh_public_key": requester_key.with_suffix(".pub").read_text().strip()}).run_id
    svc.complete(run_id, "budi.teknis", note="utilisasi host dievaluasi")
    svc.decide(run_id, "dewi.staf", "ya", "justifikasi layak")
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[7]
    sop_plan = plan.stats["sop_plan"]
    # Step 2's evaluation is in what Kasi approves: host capacity before and after.
    cap = sop_plan["host_capacity"]
    assert cap["after"]["vcpus"] == cap["before"]["vcpus"] + 1
    assert cap["after"]["memory_mb"] == cap["before"]["memory_mb"] + 512
    assert sop_plan["address"].startswith("10.30.110.")
    assert netbox_api.virtualization.virtual_machines.get(name=hostname) is None
    svc.approve(run_id, "rina.kasi", True, "rencana disetujui")
    svc.apply(run_id, "budi.teknis")
    vm = netbox_api.virtualization.virtual_machines.get(name=hostname)
    assert vm.status.value == "active" and vm.tenant.slug == "dinkes"
    assert vm.primary_ip4.address == sop_plan["address"]
    assert run_id in vm.description
    assert "running" in subprocess.run(["virsh", "-c", hypervisor.URI, "domstate", hostname],
                                       capture_output=True, text=True, check=False).stdout
    svc.complete(run_id, "budi.teknis", note="laporan rekap")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert {"berita_acara_pembuatan", "laporan_rekap", "berita_acara_permintaan"} <= set(state.documents)
    token = os.environ["NETBOX_TOKEN"]
    assert not [p for p in svc.cfg.home.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert audit.verify(svc.cfg, svc.store)[1] == []
