"""SOPs 54, 55 and Tanah Bumbu 001 through `sop` (RunService) on the router lab.

Each SOP from request to closed with the lab's personas: evaluation and decision, the plan of
the technical step (check mode, hashed), approval by the persona the SOP names, apply (re-planned
and compared first), verification on the routers, paperwork. After each run the test reads
NetBox and the routers' real configuration, then plans the same change again in a second run
and expects no change.
"""

from __future__ import annotations

import difflib
import time
from pathlib import Path
from typing import Any

import pytest
from netlab import NetboxLab, in_ns, lab_down, lab_up, vtysh, vtysh_json

from sop_runner.config import load_config, repo_root
from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.routers, pytest.mark.netbox, pytest.mark.slow]

# Tanah Bumbu's "Pejabat Pengelola" (step 3) is a role none of the Wonosobo personas holds.
PEJABAT = {"username": "pejabat.lab", "name": "Ir. Pejabat Pengelola", "roles": ["pejabat_pengelola"]}


@pytest.fixture(scope="module")
def lab(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    lab_down()
    lab_up()
    return network_netbox


@pytest.fixture
def svc(lab: NetboxLab, tmp_path: Path, make_runner_config: Any, monkeypatch: pytest.MonkeyPatch) -> RunService:
    monkeypatch.setenv("NETBOX_URL", lab.url)
    monkeypatch.setenv("NETBOX_TOKEN", lab.token)
    cfg = make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}", repo_root() / "sops",
                             extra_users=[PEJABAT])
    return RunService(load_config(str(cfg)))


def _skpd_run_to_plan(svc: RunService, sop_id: str, params: dict[str, Any]) -> str:
    """Request (step 1 is the SKPD's letter), Kabid's check and decision, the plan of step 5."""
    run_id = svc.request(sop_id, "agus.dinkes", params).run_id
    svc.complete(run_id, "hendra.kabid", note="sesuai cetak biru / kapasitas tersedia")
    svc.decide(run_id, "hendra.kabid", "ya", "usulan dapat dipenuhi")
    svc.plan(run_id, "budi.teknis")
    return run_id


def _skpd_run_close(svc: RunService, run_id: str) -> dict[str, Any]:
    svc.complete(run_id, "rina.kasi", note="draft surat jawaban")
    svc.approve(run_id, "hendra.kabid", True, "draft diperiksa", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "sutrisno.kadis", note="surat dikirim")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    return state.documents


def _apply(svc: RunService, run_id: str, step: int) -> None:
    """Apply; when the runner finds the plan stale, show what differs from the approved one."""
    approved = svc.state(run_id).plans[step]
    try:
        svc.apply(run_id, "budi.teknis")
    except ConflictError as exc:
        now = svc.state(run_id).plans[step]
        delta = "\n".join(difflib.unified_diff(approved.diff.splitlines(), now.diff.splitlines(), lineterm=""))
        pytest.fail(f"{exc}\nplan diff approved -> re-plan:\n{delta[-3000:]}\n"
                    f"summary {approved.summary} -> {now.summary}", pytrace=False)


def _md(documents: dict[str, Any], doc: str) -> str:
    return Path(documents[doc]["files"]["md"]).read_text(encoding="utf-8")


def test_sop54_new_segment_through_sop(svc: RunService, lab: NetboxLab) -> None:
    params = {"skpd": "dinkes", "location": "Gedung Dinkes lt. 2", "host_count": 40,
              "segment_name": "SKPD-DINKES-IOT", "justification": "Sensor IoT puskesmas"}
    run_id = _skpd_run_to_plan(svc, "wonosobo-54", params)
    plan = svc.state(run_id).plans[5]
    assert plan.changed >= 1 and "10.30.2.1/24" in plan.diff, plan.diff[-2000:]
    assert lab.api.ipam.vlans.get(name="SKPD-DINKES-IOT") is None, "planning creates nothing"
    svc.approve(run_id, "rina.kasi", True, "rencana teknis instalasi disetujui", plan_hash=svc.reviewable_plan(run_id))
    _apply(svc, run_id, 5)

    vlan = lab.api.ipam.vlans.get(name="SKPD-DINKES-IOT")
    assert vlan is not None and vlan.vid == 101 and vlan.tenant.slug == "dinkes"
    assert lab.api.ipam.prefixes.get(vlan_id=vlan.id).prefix == "10.30.2.0/24"
    assert "ip address 10.30.2.1/24" in vtysh("rtr-core-01", "show running-config")
    for _ in range(20):  # OSPF carries the new network to the edge (core redistributes connected)
        if "10.30.2.0/24" in vtysh_json("rtr-edge-01", "show ip route json"):
            break
        time.sleep(0.5)
    assert "10.30.2.0/24" in vtysh_json("rtr-edge-01", "show ip route json")
    docs = _skpd_run_close(svc, run_id)
    assert "10.30.2.1/24" in _md(docs, "laporan_pemasangan")

    again = _skpd_run_to_plan(svc, "wonosobo-54", params)
    assert svc.state(again).plans[5].changed == 0, svc.state(again).plans[5].diff[-2000:]
    svc.cancel(again, "rina.kasi", "segmen sudah ada")


def test_sop55_bandwidth_through_sop(svc: RunService, lab: NetboxLab) -> None:
    params = {"skpd": "dinkes", "bandwidth_mbps": 80, "current_bandwidth_mbps": 50,
              "justification": "Telemedis puskesmas"}
    run_id = _skpd_run_to_plan(svc, "wonosobo-55", params)
    plan = svc.state(run_id).plans[5]
    assert plan.changed >= 1 and "80000kbit" in plan.diff, plan.diff[-2000:]
    assert "rate" not in in_ns("dmz-gw", "tc", "class", "show", "dev", "eth1").stdout
    svc.approve(run_id, "rina.kasi", True, "skema bandwidth disetujui", plan_hash=svc.reviewable_plan(run_id))
    _apply(svc, run_id, 5)

    assert "rate 80Mbit ceil 80Mbit" in in_ns("dmz-gw", "tc", "class", "show", "dev", "eth1").stdout
    tenant = lab.api.tenancy.tenants.get(slug="dinkes")
    assert tenant.custom_fields["sop_bandwidth_mbps"] == 80
    docs = _skpd_run_close(svc, run_id)
    assert "80" in _md(docs, "laporan_penambahan_bandwidth")

    again = _skpd_run_to_plan(svc, "wonosobo-55", params)
    assert svc.state(again).plans[5].changed == 0, svc.state(again).plans[5].diff[-2000:]
    svc.cancel(again, "rina.kasi", "bandwidth sudah sesuai")


def _tanbu_to_plan(svc: RunService) -> str:
    run_id = svc.request("tanbu-device-config", "budi.teknis", {
        "devices": ["rtr-edge-01", "rtr-core-01", "rtr-isp", "rtr-edge-02"],
        "change_description": "Kembalikan konfigurasi ke konfigurasi yang disetujui (NetBox)"}).run_id
    svc.complete(run_id, "budi.teknis", note="evaluasi: drift pada rtr-core-01")
    svc.plan(run_id, "budi.teknis")
    return run_id


def test_tanbu_device_config_through_sop(svc: RunService, lab: NetboxLab) -> None:
    # drift made by hand on the core: a description and a stray static route
    vtysh("rtr-core-01", "configure terminal", "interface vlan110", "description HACKED", "exit",
          "ip route 10.99.0.0/24 10.30.1.254")
    run_id = _tanbu_to_plan(svc)
    plan = svc.state(run_id).plans[4]
    assert plan.changed >= 1 and "-ip route 10.99.0.0/24 10.30.1.254" in plan.diff, plan.diff[-2000:]
    assert "HACKED" in vtysh("rtr-core-01", "show running-config"), "planning changes nothing"
    svc.approve(run_id, "hendra.kabid", True, "perubahan konfigurasi disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "pejabat.lab", note="jadwal perubahan: malam ini")
    _apply(svc, run_id, 4)

    running = vtysh("rtr-core-01", "show running-config")
    assert "HACKED" not in running and "10.99.0.0/24" not in running
    assert "description SVI SKPD-DINKES" in running and "redistribute connected" in running
    svc.complete(run_id, "budi.teknis", note="laporan evaluasi disusun")
    svc.approve(run_id, "hendra.kabid", True, "laporan diterima", plan_hash=svc.reviewable_plan(run_id))
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert "10.99.0.0/24" in _md(state.documents, "laporan_evaluasi")

    again = _tanbu_to_plan(svc)
    assert svc.state(again).plans[4].changed == 0, svc.state(again).plans[4].diff[-2000:]
    svc.cancel(again, "hendra.kabid", "tidak ada drift")
