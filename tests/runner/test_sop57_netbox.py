"""SOP 57 (Permohonan IP Publik) end to end against the real lab NetBox and the router lab.

Step 5 is one plan for both halves: the address from NetBox's pool, then the edge route and
the NAT on the DMZ gateway (router lab, scripts/lab/routers.sh), verified from outside.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError
from sop_runner.lab import seed_network
from sop_runner.lab.paths import repo_root
from sop_runner.service import audit
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.routers]
SERVER, IFACE, POOL = "srv-dmz-dinkes-01", "eth0", "203.0.113.0/24"
ROUTERS_SH = repo_root() / "scripts" / "lab" / "routers.sh"


def _routers(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROUTERS_SH), *args], capture_output=True, text=True, check=False,
                          timeout=120)


def _from_outside(address: str) -> str:
    """What answers on address:80 from the upstream router's namespace ('' when nothing)."""
    res = subprocess.run(["ip", "netns", "exec", "sop-rtr-isp", "socat", "-T2", "-",
                          f"TCP:{address}:80,bind=192.0.2.1,connect-timeout=2"],
                         capture_output=True, text=True, check=False, timeout=20)
    return res.stdout.strip()


@pytest.fixture(scope="module", autouse=True)
def router_lab() -> Iterator[None]:
    """The router lab at its baseline; put back as it was found (down, or baseline) after."""
    was_up = _routers("status").returncode == 0
    _routers("down")
    up = _routers("up")
    assert up.returncode == 0, up.stderr[-2000:]
    yield
    _routers("down")
    if was_up:
        _routers("up")


@pytest.fixture(autouse=True)
def network_intent(e2e_config: Path, netbox_api: Any) -> None:
    """The router lab's devices and routing intent on top of the freshly reset NetBox."""
    del e2e_config  # requested for its reset, which must come first
    seed_network.seed(netbox_api)


def _public_ips(api: Any) -> list[Any]:
    iface = api.dcim.interfaces.get(device=SERVER, name=IFACE)
    return [ip for ip in api.ipam.ip_addresses.filter(interface_id=iface.id) if ip.address.startswith("203.0.113.")]


def _to_plan_approval(svc: RunService) -> str:
    run_id = svc.request("wonosobo-57", "agus.dinkes", {
        "skpd": "dinkes", "server": SERVER, "justification": "SIMPUS diakses puskesmas",
        "dns_name": "simpus.wonosobokab.go.id"}).run_id
    svc.complete(run_id, "sutrisno.kadis", note="disposisi")
    svc.complete(run_id, "hendra.kabid", note="tersedia")
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    svc.plan(run_id, "budi.teknis")
    return run_id


def _finish(svc: RunService, run_id: str) -> None:
    svc.complete(run_id, "rina.kasi", note="draft surat")
    svc.approve(run_id, "hendra.kabid", True, "draft diperiksa", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "sutrisno.kadis", note="surat dikirim")


def test_full_run_allocates_in_netbox_and_issues_paperwork(e2e: RunService, netbox_api: Any) -> None:
    assert _public_ips(netbox_api) == []
    run_id = _to_plan_approval(e2e)
    plan = e2e.state(run_id).plans[5]
    planned = plan.stats["sop_plan"]["address"]
    assert planned.startswith("203.0.113.") and plan.changed >= 1
    assert plan.stats["sop_plan"]["inside"] == "10.30.1.11"
    assert _public_ips(netbox_api) == [], "the plan must not allocate"
    e2e.approve(run_id, "rina.kasi", True, "rencana disetujui", plan_hash=e2e.reviewable_plan(run_id))
    e2e.apply(run_id, "budi.teknis")
    ips = _public_ips(netbox_api)
    assert [ip.address for ip in ips] == [planned]
    assert ips[0].tenant.slug == "dinkes" and run_id in ips[0].description
    assert ips[0].nat_inside is not None and ips[0].nat_inside.address == "10.30.1.11/24"
    assert _from_outside(planned.split("/")[0]) == SERVER
    _finish(e2e, run_id)
    state = e2e.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert {"berita_acara_alokasi", "laporan_distribusi", "surat_jawaban"} <= set(state.documents)
    ba = Path(state.documents["berita_acara_alokasi"]["files"]["md"]).read_text()
    assert planned.split("/")[0] in ba and "Rina Kusumawati" in ba
    token = os.environ["NETBOX_TOKEN"]
    assert not [p for p in e2e.cfg.home.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert audit.verify(e2e.cfg, e2e.store)[1] == []


def test_planned_ip_taken_meanwhile_returns_to_approval(e2e: RunService, netbox_api: Any) -> None:
    run_id = _to_plan_approval(e2e)
    planned = e2e.state(run_id).plans[5].stats["sop_plan"]["address"]
    e2e.approve(run_id, "rina.kasi", True, "ok", plan_hash=e2e.reviewable_plan(run_id))
    netbox_api.ipam.ip_addresses.create(address=planned, status="reserved", description="diambil tangan")
    with pytest.raises(ConflictError, match="plan changed since it was approved"):
        e2e.apply(run_id, "budi.teknis")
    state = e2e.state(run_id)
    assert state.current == 4 and _public_ips(netbox_api) == []
    new_address = state.plans[5].stats["sop_plan"]["address"]
    assert new_address != planned
    e2e.approve(run_id, "rina.kasi", True, "rencana baru disetujui", plan_hash=e2e.reviewable_plan(run_id))
    e2e.apply(run_id, "budi.teknis")
    assert [ip.address for ip in _public_ips(netbox_api)] == [new_address]


def test_killed_apply_resumes_with_one_allocation(e2e: RunService, e2e_config: Path, netbox_api: Any) -> None:
    run_id = _to_plan_approval(e2e)
    planned = e2e.state(run_id).plans[5].stats["sop_plan"]["address"].split("/")[0]
    e2e.approve(run_id, "rina.kasi", True, "ok", plan_hash=e2e.reviewable_plan(run_id))
    env = {**os.environ, "SOP_CONFIG": str(e2e_config), "SOP_FAULT_HOLD_AFTER_APPLY": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "sop_runner", "apply", run_id, "--as", "budi.teknis"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # Both halves done (allocated in NetBox, answering from outside), not yet recorded.
    deadline = time.monotonic() + 150
    while not (_public_ips(netbox_api) and _from_outside(planned) == SERVER):
        assert proc.poll() is None, "apply ended before the fault window"
        assert time.monotonic() < deadline, "the address never appeared or never answered"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the change is made, the runner dies before recording it
    proc.wait()
    assert e2e.state(run_id).status is RunStatus.INTERRUPTED
    e2e.resume(run_id, "budi.teknis")
    state = e2e.state(run_id)
    assert state.status is RunStatus.OPEN and state.current == 6 and 5 in state.applied
    assert len(_public_ips(netbox_api)) == 1
    assert _from_outside(planned) == SERVER
    _finish(e2e, run_id)
    assert e2e.state(run_id).status is RunStatus.CLOSED
    assert len(_public_ips(netbox_api)) == 1
