"""SOP 56 through `sop` (RunService) on the router lab: the rollback path, then the replacement.

The same role the playbook tests drive, here walked by the runner with the lab's personas:
decision, signed plan approval, apply (re-planned and compared), verification, paperwork.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from netlab import ROUTER_LAB, NetboxLab, core_reaches_upstream, lab_down, lab_up

from sop_runner.config import load_config, repo_root
from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.routers, pytest.mark.netbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab56(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    lab_down()
    lab_up()
    return network_netbox


@pytest.fixture
def svc56(lab56: NetboxLab, tmp_path: Path, make_runner_config: Any, monkeypatch: pytest.MonkeyPatch) -> RunService:
    monkeypatch.setenv("NETBOX_URL", lab56.url)
    monkeypatch.setenv("NETBOX_TOKEN", lab56.token)
    cfg = make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}", repo_root() / "sops")
    return RunService(load_config(str(cfg)))


def _to_approval(svc: RunService) -> str:
    run_id = svc.request("wonosobo-56", "agus.dinkes", {
        "skpd": "dinkes", "router": "rtr-edge-01", "replacement": "rtr-edge-02",
        "justification": "Router edge sering hang, diganti unit cadangan"}).run_id
    svc.complete(run_id, "hendra.kabid", note="router cadangan rtr-edge-02 tersedia")
    svc.decide(run_id, "hendra.kabid", "ya", "penggantian disetujui")
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[5]
    assert plan.changed >= 1 and "+router bgp 64512" in plan.diff, plan.diff[-2000:]
    assert (ROUTER_LAB / "cables").read_text().strip() == "rtr-edge-01", "planning changes nothing"
    svc.approve(run_id, "rina.kasi", True, "rencana teknis penggantian disetujui", plan_hash=svc.reviewable_plan(run_id))
    return run_id


def test_failed_verification_rolls_back_through_sop(svc56: RunService, lab56: NetboxLab,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _to_approval(svc56)
    monkeypatch.setenv("SOP_FAULT_ROUTER_VERIFY", "1")
    with pytest.raises(ConflictError, match="rolled back"):
        svc56.apply(run_id, "budi.teknis")
    state = svc56.state(run_id)
    assert state.status is RunStatus.FAILED and state.outcome is Outcome.ROLLED_BACK
    assert "ROLLED BACK" in state.last_error
    assert (ROUTER_LAB / "cables").read_text().strip() == "rtr-edge-01"
    assert core_reaches_upstream(), "the old router carries traffic again"
    assert lab56.api.dcim.devices.get(name="rtr-edge-01").status.value == "active"
    svc56.resume(run_id, "budi.teknis")
    assert svc56.state(run_id).current == 4, "after a failure the new plan must be approved again"
    svc56.cancel(run_id, "rina.kasi", "diulang setelah pemeriksaan")


def test_replacement_through_sop_closes_with_laporan(svc56: RunService, lab56: NetboxLab) -> None:
    run_id = _to_approval(svc56)
    svc56.apply(run_id, "budi.teknis")
    assert (ROUTER_LAB / "cables").read_text().strip() == "rtr-edge-02"
    assert core_reaches_upstream()
    assert lab56.api.dcim.devices.get(name="rtr-edge-02").status.value == "active"
    svc56.complete(run_id, "rina.kasi", note="draft surat")
    svc56.approve(run_id, "hendra.kabid", True, "draft diperiksa", plan_hash=svc56.reviewable_plan(run_id))
    svc56.complete(run_id, "sutrisno.kadis", note="surat dikirim")
    state = svc56.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    laporan = Path(state.documents["laporan_pemasangan_router"]["files"]["md"]).read_text()
    assert "+router bgp 64512" in laporan
    backup = svc56.cfg.home / "runs" / run_id / "outputs" / "step5" / "rtr-edge-01.running-config.txt"
    assert "hostname rtr-edge-01" in backup.read_text()
