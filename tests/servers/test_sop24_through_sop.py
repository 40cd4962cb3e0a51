"""SOP 24 (upgrade the server OS) through `sop` (RunService) on two lab hosts.

Internal SOP: the Operator DC (budi.teknis) starts it; Kabid approves the check-mode plan
(what would be upgraded on each host); Staf notifies the users; the apply re-plans, compares
the hash and upgrades both hosts in one batch; the role's post-checks run; the Laporan carries
the before/after version table, asserted against the versions read from the hosts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from srvlab import TEST_PACKAGE, installed_version, make_outdated, on_all, version_gt

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ForbiddenError, InvalidInputError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.slow]


def _params(hosts: list[str], upgrade_type: str = "security") -> dict[str, object]:
    return {
        "servers": hosts,
        "batch_size": len(hosts),
        "os": "debian",
        "current_version": "12",
        "target_version": "latest",
        "upgrade_type": upgrade_type,
        "maintenance_date": "2026-11-28",
        "maintenance_window": "22:00-23:00",
        "affected_services": ["ssh"],
    }


def test_sop24_refuses_a_major_upgrade_at_request(server_runner: RunService, lab_servers: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="os_upgrade_mode"):
        server_runner.request("wonosobo-24", "budi.teknis", _params(lab_servers, "major"))
    with pytest.raises(ForbiddenError, match="operator_dc"):
        server_runner.request("wonosobo-24", "dewi.staf", _params(lab_servers))


def test_sop24_upgrades_two_hosts_and_reports_the_versions(server_runner: RunService, lab_servers: list[str]) -> None:
    svc = server_runner
    t0 = time.monotonic()
    old = on_all(lab_servers, make_outdated)
    print(f"outdated {TEST_PACKAGE} on {len(lab_servers)} hosts in {time.monotonic() - t0:.0f} s: {old}")

    run_id = svc.request("wonosobo-24", "budi.teknis", _params(lab_servers)).run_id
    svc.complete(run_id, "budi.teknis", note="reminder NOC: pembaruan keamanan tersedia")

    t1 = time.monotonic()
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[4]
    print(f"plan in {time.monotonic() - t1:.0f} s")
    sop_plan = plan.stats["sop_plan"]
    for host in lab_servers:
        assert re.search(rf"\b{TEST_PACKAGE} {re.escape(old[host])} -> \S+", sop_plan[host]), sop_plan
        assert installed_version(host) == old[host], "planning must not change the host"

    with pytest.raises(ForbiddenError):
        svc.approve(run_id, "budi.teknis", True, "menyetujui sendiri", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "hendra.kabid", True, "rencana upgrade keamanan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="pemberitahuan pemeliharaan dikirim ke pengguna")

    t2 = time.monotonic()
    svc.apply(run_id, "budi.teknis")
    print(f"apply (re-plan + upgrade) in {time.monotonic() - t2:.0f} s")
    new = {h: installed_version(h) for h in lab_servers}
    for host in lab_servers:
        assert version_gt(new[host], old[host]), (host, old[host], new[host])
        planned = re.search(rf"\b{TEST_PACKAGE} \S+ -> (\S+)", sop_plan[host])
        assert planned is not None and planned.group(1) == new[host], "the apply installed the approved version"

    state = svc.state(run_id)
    assert state.current == 5 and 4 in state.applied
    assert state.applied[4] == state.gate_for(2).plan_hash, "the approved plan was applied"
    svc.complete(run_id, "budi.teknis", note="pengujian: layanan berjalan normal")
    svc.complete(run_id, "budi.teknis", note="laporan upgrade dibuat")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED

    laporan = Path(state.documents["laporan_upgrade"]["files"]["md"]).read_text(encoding="utf-8")
    assert f"pelaksanaan nomor {run_id}" in laporan, "an internal SOP's Laporan names no SKPD request"
    notice = Path(state.documents["pemberitahuan"]["files"]["md"]).read_text(encoding="utf-8")
    assert "akan dilaksanakan Upgrade Operating System Server" in notice, notice
    assert "telah dipenuhi" not in notice and "permohonan Saudara" not in notice, notice
    for host in lab_servers:
        row = f"| {host} | {TEST_PACKAGE} | {old[host]} | {new[host]} |"
        assert row in laporan, f"missing {row!r} in the Laporan:\n{laporan}"
        assert re.search(rf"\| {host} \| ssh \| active \| active \| 22 \| ya \|", laporan), laporan
    print(f"SOP 24 through sop on {len(lab_servers)} hosts: {time.monotonic() - t0:.0f} s")
