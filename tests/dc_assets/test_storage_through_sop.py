"""SOP 10 (storage install) and SOP 11 (storage capacity add) through `sop` on the lab NetBox.

SOP 10 installs a storage array whose model NetBox does not know yet (the type is registered)
with its capacity; SOP 11 adds capacity to it, once: the run id names the change, so applying
the same change again adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dc_helpers import run_playbook

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SFX = uuid.uuid4().hex[:6]
RACK, STORAGE = f"rs-{SFX}", f"stor-{SFX}"
VENDOR = {"username": "vendor.lab", "name": "PT Mitra Data Nusantara", "roles": ["pihak_ketiga"]}


@pytest.fixture
def svc(catalogue_runner: Callable[..., RunService]) -> RunService:
    return catalogue_runner([VENDOR])


def _closed(svc: RunService, run_id: str) -> None:
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, (state.status, state.last_error)


def test_sop10_storage_install_through_sop(svc: RunService, netbox_api: Any) -> None:
    rack = run_playbook("sop07_rack_add.yml", {"dc_assets_name": RACK, "dc_assets_rack_u_height": 6,
                                               "dc_assets_power_budget_w": 2000})
    assert rack.rc == 0, rack.failures
    run_id = svc.request("wonosobo-10", "agus.dinkes", {
        "skpd": "dinkes", "nama_perangkat": STORAGE, "jenis_storage": "san", "merk_model": "Dell PowerVault ME5024",
        "nomor_seri": f"ME5-{SFX}", "kapasitas_tb": 20, "tinggi_u": 2, "daya_watt": 580, "rak": RACK,
        "penggunaan": "Penyimpanan data SIMPUS"}).run_id
    svc.complete(run_id, "budi.teknis", note="permohonan diterima")
    svc.complete(run_id, "dewi.staf", note="kesiapan DC dievaluasi")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[7].stats["sop_plan"]
    assert sop_plan["after"]["capacity_tb"] == 20.0 and sop_plan["after"]["device_type"] == "dell-powervault-me5024"
    assert (sop_plan["checks"]["units"], sop_plan["checks"]["power_after_w"]) == ([1, 2], 580)
    assert netbox_api.dcim.devices.get(name=STORAGE) is None
    svc.approve(run_id, "rina.kasi", True, "pemasangan storage disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="jadwal")
    svc.apply(run_id, "budi.teknis")
    dev = netbox_api.dcim.devices.get(name=STORAGE)
    assert (dev.role.slug, dev.rack.name, dev.position, dev.tenant.slug, dev.device_type.model) == (
        "storage", RACK, 1, "dinkes", "PowerVault ME5024")
    assert float(dev.custom_fields["storage_capacity_tb"]) == 20.0
    assert {i.name: i.description for i in netbox_api.dcim.inventory_items.filter(device_id=dev.id)} == {
        "Jenis storage": "SAN"}
    svc.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    svc.complete(run_id, "budi.teknis", note="laporan")
    _closed(svc, run_id)
    ba = Path(svc.state(run_id).documents["berita_acara"]["files"]["md"]).read_text(encoding="utf-8")
    assert STORAGE in ba and "kapasitas 20.0 TB" in ba


def test_sop11_capacity_add_through_sop_once(svc: RunService, netbox_api: Any) -> None:
    run_id = svc.request("wonosobo-11", "budi.teknis", {
        "storage": STORAGE, "kapasitas_tambahan_tb": 8, "media": "2 x 4 TB NL-SAS", "vendor": "PT Mitra Data",
        "justification": "Sisa kapasitas di bawah 10 %"}).run_id
    svc.complete(run_id, "budi.teknis", note="rencana diajukan")
    svc.complete(run_id, "dewi.staf", note="dievaluasi")
    svc.plan(run_id, "budi.teknis")
    checks = svc.state(run_id).plans[9].stats["sop_plan"]["checks"]
    assert (checks["capacity_before_tb"], checks["capacity_after_tb"]) == (20.0, 28.0)
    svc.approve(run_id, "rina.kasi", True, "penambahan kapasitas disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="vendor dihubungi")
    svc.complete(run_id, "budi.teknis", note="pemberitahuan shutdown dikirim")
    svc.complete(run_id, "vendor.lab", note="disk siap")
    svc.complete(run_id, "vendor.lab", note="disk terpasang dan diuji")
    svc.complete(run_id, "vendor.lab", note="berita acara ditandatangani")
    svc.apply(run_id, "budi.teknis")
    dev = netbox_api.dcim.devices.get(name=STORAGE)
    assert float(dev.custom_fields["storage_capacity_tb"]) == 28.0
    items = {i.name: (i.part_id, i.description) for i in netbox_api.dcim.inventory_items.filter(device_id=dev.id)}
    assert items[f"Penambahan {run_id}"] == ("8.0 TB", "2 x 4 TB NL-SAS")
    # The same change applied again adds nothing; a different one would.
    again = run_playbook("sop11_storage_capacity_add.yml", {
        "dc_assets_name": STORAGE, "dc_assets_capacity_tb": 8, "dc_assets_change_id": run_id})
    assert again.rc == 0 and again.changed == 0, again.failures
    assert float(netbox_api.dcim.devices.get(name=STORAGE).custom_fields["storage_capacity_tb"]) == 28.0
    svc.complete(run_id, "budi.teknis", note="laporan")
    _closed(svc, run_id)
    # A server is not a storage device: refused before anything is written.
    wrong = run_playbook("sop11_storage_capacity_add.yml", {
        "dc_assets_name": "srv-db-01", "dc_assets_capacity_tb": 1, "dc_assets_change_id": "x"}, check=True)
    assert wrong.rc != 0 and "capacity is recorded on storage devices only" in " ".join(wrong.failures)
