"""SOP 7, 8, 14 and 9 through `sop` (RunService) on the lab NetBox, from request to closed.

One story, in file order: SOP 7 adds a 4U rack with a power budget, SOP 8 installs a 2U
server into it (and refuses a second one that does not fit, and one the power budget cannot
carry), SOP 14 moves the server and a second one to another rack, SOP 9 takes the first out.
Each plan is approved by a persona other than the requester; NetBox is checked after each
apply and the Berita Acara / Laporan are read back. Names are unique per session (the lab
NetBox is shared with the other suites and not reset here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dc_helpers import run_playbook

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError, ForbiddenError
from sop_runner.service import audit
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SFX = uuid.uuid4().hex[:6]
RACK, RACK2 = f"rt-{SFX}", f"rt2-{SFX}"
SRV, SRV2, SRV_BIG = f"srv-{SFX}", f"srv2-{SFX}", f"srv-big-{SFX}"
VENDOR = {"username": "vendor.lab", "name": "PT Mitra Data Nusantara", "roles": ["pihak_ketiga"]}


@pytest.fixture
def svc(catalogue_runner: Callable[..., RunService]) -> RunService:
    return catalogue_runner([VENDOR])


def _doc(svc: RunService, run_id: str, doc: str) -> str:
    return Path(svc.state(run_id).documents[doc]["files"]["md"]).read_text(encoding="utf-8")


def _closed(svc: RunService, run_id: str) -> None:
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, (state.status, state.last_error)
    assert audit.verify(svc.cfg, svc.store)[1] == []


def _sop08_request(svc: RunService, name: str, serial: str, **extra: Any) -> str:
    params = {"skpd": "dinkes", "nama_perangkat": name, "merk_model": "Dell PowerEdge R750", "nomor_seri": serial,
              "tinggi_u": 2, "daya_watt": 600, "rak": RACK, "posisi_u": 1, "fungsi_server": "Server SIMPUS",
              **extra}
    run_id = svc.request("wonosobo-08", "agus.dinkes", params).run_id
    svc.complete(run_id, "budi.teknis", note="permohonan diterima")
    svc.complete(run_id, "dewi.staf", note="infrastruktur DC dievaluasi")
    return run_id


def test_sop07_rack_add_through_sop(svc: RunService, netbox_api: Any) -> None:
    run_id = svc.request("wonosobo-07", "budi.teknis", {
        "nama_rak": RACK, "lokasi": "ruang-server-lt2", "tinggi_u": 4, "kapasitas_daya_kw": 1.5,
        "justification": "Rak R01-R03 penuh"}).run_id
    svc.complete(run_id, "budi.teknis", note="rencana diajukan")  # an operator's request is not an SKPD's letter
    svc.complete(run_id, "dewi.staf", note="rencana dievaluasi")
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[5]
    checks = plan.stats["sop_plan"]["checks"]
    # 1.5 kW at 230 V and 80 %: ceil(1500 / 184) = 9 A, a budget of 230 x 9 x 0.8 = 1656 W.
    assert checks["rack_units"] == 4 and checks["feed_amperage"] == 9 and checks["power_budget_w"] == 1656
    assert plan.changed == 1 and "1656" in plan.diff
    assert netbox_api.dcim.racks.get(name=RACK) is None, "a plan must not write"
    with pytest.raises(ForbiddenError):
        svc.approve(run_id, "budi.teknis", True, "sendiri", plan_hash=svc.reviewable_plan(run_id))  # the requester (no Kasi either) cannot approve
    svc.approve(run_id, "rina.kasi", True, "rencana rak disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="jadwal pemasangan")
    svc.apply(run_id, "budi.teknis")
    rack = netbox_api.dcim.racks.get(name=RACK)
    assert (rack.u_height, rack.location.slug, rack.tenant.slug) == (4, "ruang-server-lt2", "diskominfo")
    feeds = list(netbox_api.dcim.power_feeds.filter(rack_id=rack.id))
    assert [(f.name, f.type.value, f.status.value, f.voltage, f.amperage, f.max_utilization) for f in feeds] == [
        (f"{RACK}-A", "primary", "planned", 230, 9, 80)]
    svc.complete(run_id, "budi.teknis", note="kabel listrik dan data terpasang, diuji")
    svc.complete(run_id, "budi.teknis", note="berita acara")
    svc.complete(run_id, "budi.teknis", note="laporan ke Staf, Kasi, Kabid")
    _closed(svc, run_id)
    ba = _doc(svc, run_id, "berita_acara")
    assert f"Rak {RACK} (4U) ditambahkan di DC Diskominfo Wonosobo, anggaran daya 1656 W" in ba
    assert "| Operator DC | Budi Prasetyo, A.Md." in ba


def test_sop08_server_install_through_sop(svc: RunService, netbox_api: Any) -> None:
    run_id = _sop08_request(svc, SRV, f"SN-{SFX}")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[7].stats["sop_plan"]
    checks = sop_plan["checks"]
    assert (checks["rack"], checks["units"], checks["free_units_before"], checks["free_units_after"]) == (
        RACK, [1, 2], 4, 2)
    assert (checks["power_budget_w"], checks["power_used_w"], checks["power_after_w"]) == (1656, 0, 600)
    assert netbox_api.dcim.devices.get(name=SRV) is None
    svc.approve(run_id, "rina.kasi", True, "pemasangan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="jadwal disepakati")
    svc.apply(run_id, "budi.teknis")
    dev = netbox_api.dcim.devices.get(name=SRV)
    assert (dev.rack.name, dev.position, dev.status.value, dev.tenant.slug, dev.serial, dev.device_type.slug) == (
        RACK, 1, "active", "dinkes", f"SN-{SFX}", "poweredge-r750")
    assert sorted(p.allocated_draw for p in netbox_api.dcim.power_ports.filter(device_id=dev.id)) == [300, 300]
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.complete(run_id, "budi.teknis", note="laporan")
    _closed(svc, run_id)
    ba = _doc(svc, run_id, "berita_acara")
    assert SRV in ba and f"SN-{SFX}" in ba and "Agus Santoso" in ba


def test_sop08_too_few_free_units_refused_at_plan_time_with_numbers(svc: RunService, netbox_api: Any) -> None:
    run_id = _sop08_request(svc, SRV_BIG, f"SN-BIG-{SFX}", posisi_u=2)
    with pytest.raises(ConflictError) as exc:
        svc.plan(run_id, "budi.teknis")
    msg = str(exc.value)
    assert f"too few free units in rack {RACK} at U2: needs 2 (U2-U3), 1 free there; occupied: U2 {SRV}" in msg
    assert "rack has 2 of 4 units free (U3-U4)" in msg
    assert 7 not in svc.state(run_id).plans
    # The power budget is checked the same way: 600 W used + 1200 W > 1656 W.
    power = _sop08_request(svc, SRV_BIG, f"SN-BIG-{SFX}", posisi_u=3, daya_watt=1200)
    with pytest.raises(ConflictError, match=rf"power budget of rack {RACK} exceeded: 600 W used \+ 1200 W = 1800 W "
                                            r"> 1656 W"):
        svc.plan(power, "budi.teknis")
    assert netbox_api.dcim.devices.get(name=SRV_BIG) is None
    svc.cancel(run_id, "rina.kasi", "tidak muat")
    svc.cancel(power, "rina.kasi", "daya tidak cukup")


def test_sop14_relocate_two_devices_through_sop(svc: RunService, netbox_api: Any) -> None:
    # Setup outside the runner (the runner paths of SOP 7 and 8 are tested above).
    assert run_playbook("sop07_rack_add.yml", {"dc_assets_name": RACK2, "dc_assets_rack_u_height": 4,
                                               "dc_assets_power_budget_w": 1500}).rc == 0
    second = run_playbook("sop08_server_install.yml", {
        "dc_assets_name": SRV2, "dc_assets_tenant": "dinkes", "dc_assets_rack": RACK, "dc_assets_position": 4,
        "dc_assets_device_type": "poweredge-r650", "dc_assets_serial": f"SN2-{SFX}", "dc_assets_power_draw_w": 300})
    assert second.rc == 0, second.failures
    run_id = svc.request("wonosobo-14", "budi.teknis", {
        "daftar_perangkat": [SRV, SRV2], "skpd": "dinkes", "lokasi_tujuan": RACK2,
        "justification": "Rak lama dipakai untuk jaringan"}).run_id
    svc.complete(run_id, "budi.teknis", note="rencana pemindahan diajukan")
    svc.complete(run_id, "dewi.staf", note="review dan justifikasi")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[8].stats["sop_plan"]
    # Planned together: the second device does not get the first one's units.
    assert sop_plan["positions"] == {SRV: 1, SRV2: 3}
    assert sop_plan["checks"][SRV2]["power_after_w"] == 900
    assert netbox_api.dcim.devices.get(name=SRV).rack.name == RACK
    svc.approve(run_id, "rina.kasi", True, "pemindahan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="koordinasi user dan vendor")
    svc.complete(run_id, "dewi.staf", note="pelaksana: pihak ketiga")
    svc.complete(run_id, "budi.teknis", note="perangkat dimatikan normal")
    svc.complete(run_id, "vendor.lab", note="kabel dicabut")
    svc.apply(run_id, "vendor.lab")
    placed = {n: (d.rack.name, d.position) for n in (SRV, SRV2) for d in [netbox_api.dcim.devices.get(name=n)]}
    assert placed == {SRV: (RACK2, 1), SRV2: (RACK2, 3)}
    svc.complete(run_id, "budi.teknis", note="laporan")
    _closed(svc, run_id)
    laporan = _doc(svc, run_id, "laporan")
    assert SRV in laporan and RACK2 in laporan


def test_sop09_server_remove_through_sop(svc: RunService, netbox_api: Any) -> None:
    run_id = svc.request("wonosobo-09", "agus.dinkes", {
        "skpd": "dinkes", "nama_perangkat": SRV, "nomor_seri": f"SN-{SFX}", "justification": "Server diganti"}).run_id
    svc.complete(run_id, "budi.teknis", note="permohonan diterima")
    svc.plan(run_id, "budi.teknis")
    assert svc.state(run_id).plans[6].stats["sop_plan"]["after"]["rack"] is None
    svc.approve(run_id, "dewi.staf", True, "pengambilan dijadwalkan", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="notifikasi diterima")
    svc.complete(run_id, "dewi.staf", note="koordinasi")
    svc.apply(run_id, "budi.teknis")
    dev = netbox_api.dcim.devices.get(name=SRV)
    assert dev.rack is None and dev.position is None and dev.status.value == "offline"
    svc.complete(run_id, "agus.dinkes", note="server diterima")
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.complete(run_id, "budi.teknis", note="laporan")
    _closed(svc, run_id)
    assert SRV in _doc(svc, run_id, "berita_acara")
