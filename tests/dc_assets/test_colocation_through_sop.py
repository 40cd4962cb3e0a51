"""Co-location (document 003, Kaltim) through `sop` on the lab NetBox: the filled BAST.

An OPD's own server goes into a rack; the handover form (Berita Acara Serah Terima) lists,
for the server, what NetBox now records: processor, RAM, motherboard, storage, PSU, domain
and its place (rack and units).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dc_helpers import run_playbook

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.service import audit
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SFX = uuid.uuid4().hex[:6]
RACK, SERVER, DOMAIN = f"rk-{SFX}", f"colo-{SFX}", f"simpus-{SFX}.kaltimprov.go.id"
# A model of its own per session: the test must see the device type being registered.
TYPE_MODEL = f"SYS-6029P-{SFX}"
HARDWARE = {"processor": "Intel Xeon Silver 4310 2,1 GHz", "ram": "64 GB DDR4 ECC",
            "motherboard": "Supermicro X12DPi-NT6", "storage": "2 x 960 GB SSD RAID 1",
            "psu": "2 x 800 W redundant"}


@pytest.fixture
def svc(catalogue_runner: Callable[..., RunService]) -> RunService:
    return catalogue_runner()


def test_colocation_through_sop_fills_the_bast(svc: RunService, netbox_api: Any) -> None:
    rack = run_playbook("sop07_rack_add.yml", {"dc_assets_name": RACK, "dc_assets_rack_u_height": 8,
                                               "dc_assets_location": "ruang-server-lt2",
                                               "dc_assets_power_budget_w": 2000})
    assert rack.rc == 0, rack.failures
    run_id = svc.request("kaltim-colocation", "agus.dinkes", {
        "skpd": "dinkes", "pic_name": "Agus Santoso", "pic_nip": "198705122010011003",
        "unit_address": "Jl. Kesehatan No. 1", "contact": "0811 5555 1234", "domain": DOMAIN, "term": "permanen",
        "server_name": SERVER, "serial_number": f"SN-CL-{SFX}", "model": f"Supermicro {TYPE_MODEL}",
        "location": RACK, "tinggi_u": 2, "daya_watt": 800, **HARDWARE}).run_id
    svc.approve(run_id, "hendra.kabid", True, "disposisi ke Pengawas Infrastruktur dan Personil DC", plan_hash=svc.reviewable_plan(run_id))
    svc.decide(run_id, "budi.teknis", "ya", "listrik, UPS, genset, bandwidth dan tempat tersedia")
    svc.complete(run_id, "agus.dinkes", note="form pengajuan diisi")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[8].stats["sop_plan"]
    assert sop_plan["checks"]["device_type_created"] == f"supermicro-sys-6029p-{SFX}"
    assert sop_plan["after"]["components"] == {"Prosesor": HARDWARE["processor"], "RAM": HARDWARE["ram"],
                                               "Motherboard": HARDWARE["motherboard"],
                                               "Storage": HARDWARE["storage"], "PSU": HARDWARE["psu"]}
    assert netbox_api.dcim.devices.get(name=SERVER) is None
    svc.approve(run_id, "hendra.kabid", True, "form persetujuan co-location", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "budi.teknis", note="OPD diberi tahu")
    svc.complete(run_id, "agus.dinkes", note="server dibawa ke DC")
    svc.apply(run_id, "budi.teknis")
    dev = netbox_api.dcim.devices.get(name=SERVER)
    assert (dev.rack.name, dev.position, dev.tenant.slug, dev.description, dev.device_type.model) == (
        RACK, 1, "dinkes", DOMAIN, TYPE_MODEL)
    inventory = {i.name: i.description for i in netbox_api.dcim.inventory_items.filter(device_id=dev.id)}
    assert inventory["Prosesor"] == HARDWARE["processor"] and inventory["PSU"] == HARDWARE["psu"]
    svc.complete(run_id, "budi.teknis", note="server dan hosting dapat diakses")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, state.last_error
    assert audit.verify(svc.cfg, svc.store)[1] == []
    bast = Path(state.documents["bast_kolokasi"]["files"]["md"]).read_text(encoding="utf-8")
    assert "BERITA ACARA SERAH TERIMA" in bast
    rows = dict(re.findall(r"^\| \d+ \| ([^|]+?) \| ([^|]+?) \|$", bast, flags=re.MULTILINE))
    assert rows == {
        "Nama Server": SERVER, "Type & Merk": f"Supermicro {TYPE_MODEL}", "S/N": f"SN-CL-{SFX}",
        "Prosesor": HARDWARE["processor"], "RAM": HARDWARE["ram"], "Motherboard": HARDWARE["motherboard"],
        "Storage": HARDWARE["storage"], "PSU": HARDWARE["psu"], "Domain": DOMAIN,
        "Letak Server": f"DC Diskominfo Wonosobo, Ruang Server Lantai 2, rak {RACK} U1-U2"}
    assert "Agus Santoso" in bast and "Budi Prasetyo" in bast


def test_install_without_a_rack_picks_the_first_that_fits(netbox_api: Any) -> None:
    plan = run_playbook("sop08_server_install.yml", {
        "dc_assets_name": f"auto-{SFX}", "dc_assets_tenant": "dinkes", "dc_assets_device_type": "poweredge-r650",
        "dc_assets_serial": f"SN-AUTO-{SFX}", "dc_assets_power_draw_w": 200}, check=True)
    assert plan.rc == 0, plan.failures
    checks = plan.plan["checks"]
    rack = netbox_api.dcim.racks.get(name=checks["rack"])
    assert rack.status.value == "active" and rack.site.slug == "dc-wonosobo"
    assert checks["free_units_after"] == checks["free_units_before"] - 1
    refused = run_playbook("sop08_server_install.yml", {
        "dc_assets_name": f"auto-{SFX}", "dc_assets_tenant": "dinkes", "dc_assets_device_type": "poweredge-r650",
        "dc_assets_serial": f"SN-AUTO-{SFX}", "dc_assets_power_draw_w": 99000}, check=True)
    assert refused.rc != 0
    assert "no active rack of site dc-wonosobo can take a 1U device drawing 99000 W" in " ".join(refused.failures)
