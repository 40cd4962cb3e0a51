"""Asset relocation, use and repair (document 004, procedures 2-4) through `sop` on the lab NetBox.

Each run goes request -> paper steps -> plan -> the official's approval of that plan -> apply,
and the test reads NetBox back: the relocated devices sit in the destination rack, the asset
put into use is active and belongs to the receiving unit, the repaired devices are active, and
every changed device carries the run's journal entry. The requester never signs the plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ForbiddenError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SFX = uuid.uuid4().hex[:6]
MOVE = [f"mv-a-{SFX}", f"mv-b-{SFX}"]
USE = f"use-{SFX}"
FIX = [f"fix-a-{SFX}", f"fix-b-{SFX}"]
DEST = "R03"
# The user who receives the asset (procedure 3's "Pengguna Aset"): no lab persona holds that duty.
PENGGUNA = {"username": "andi.pengguna", "name": "Andi Saputra", "roles": ["pengguna"], "tenant": "dinkes"}


@pytest.fixture
def svc(catalogue_runner: Callable[..., RunService]) -> RunService:
    return catalogue_runner([PENGGUNA])


@pytest.fixture
def devices(netbox_api: Any) -> Iterator[dict[str, Any]]:
    dtype = netbox_api.dcim.device_types.get(slug="poweredge-r250")
    role = netbox_api.dcim.device_roles.get(slug="server")
    site = netbox_api.dcim.sites.get(slug="dc-wonosobo")
    wanted = {MOVE[0]: "active", MOVE[1]: "active", USE: "inventory", FIX[0]: "failed", FIX[1]: "active"}
    devs = {n: netbox_api.dcim.devices.create(name=n, device_type=dtype.id, role=role.id, site=site.id, status=s)
            for n, s in wanted.items()}
    yield devs
    for dev in devs.values():
        dev.delete()


def _journal(netbox_api: Any, dev: Any) -> list[str]:
    return [j.comments for j in netbox_api.extras.journal_entries.filter(assigned_object_type="dcim.device",
                                                                       assigned_object_id=dev.id)]


def _closed(svc: RunService, run_id: str) -> None:
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, (state.status, state.last_error)


def test_relocation_through_sop(svc: RunService, netbox_api: Any, devices: dict[str, Any]) -> None:
    run_id = svc.request("tanbu-asset-2", "yusuf.plt", {"assets": MOVE, "origin": "Gudang", "destination": DEST,
                                                        "reason": "Penataan ruang server"}).run_id
    svc.complete(run_id, "yusuf.plt", note="rencana pemindahtempaan")
    with pytest.raises(ForbiddenError, match="may not decide or approve"):
        svc.approve(run_id, "yusuf.plt", True, "setuju", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "hendra.kabid", True, "rencana disetujui Kabid", plan_hash=svc.reviewable_plan(run_id))
    svc.plan(run_id, "yusuf.plt")
    sop_plan = svc.state(run_id).plans[5].stats["sop_plan"]
    assert {n: (sop_plan["before"][n]["rack"], sop_plan["after"][n]["rack"]) for n in MOVE} == dict.fromkeys(
        MOVE, (None, DEST))
    positions = sop_plan["positions"]
    assert positions[MOVE[0]] != positions[MOVE[1]], "the plan reserves each device's own units"
    svc.approve(run_id, "sutrisno.kadis", True, "disahkan", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "hendra.kabid", note="surat penugasan")
    svc.apply(run_id, "yusuf.plt")
    for name in MOVE:
        dev = netbox_api.dcim.devices.get(devices[name].id)
        assert (dev.rack.name, dev.position) == (DEST, positions[name])
        assert _journal(netbox_api, dev) == [f"Pemindahtempaan aset (run {run_id}) dari Gudang ke {DEST}"]
    svc.complete(run_id, "hendra.kabid", note="dilaporkan")
    _closed(svc, run_id)


def test_use_through_sop(svc: RunService, netbox_api: Any, devices: dict[str, Any]) -> None:
    params = {"skpd": "dinkes", "recipient_name": "Andi Saputra", "asset": USE, "purpose": "Server SIMPUS"}
    run_id = svc.request("tanbu-asset-3", "agus.dinkes", params).run_id
    svc.plan(run_id, "rina.kasi")
    sop_plan = svc.state(run_id).plans[2].stats["sop_plan"]
    assert (sop_plan["before"]["status"], sop_plan["after"]["status"], sop_plan["after"]["tenant"]) == (
        "inventory", "active", "dinkes")
    with pytest.raises(ForbiddenError):
        svc.approve(run_id, "agus.dinkes", True, "setuju", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "rina.kasi", True, "aset diserahkan", plan_hash=svc.reviewable_plan(run_id))
    svc.apply(run_id, "andi.pengguna")
    dev = netbox_api.dcim.devices.get(devices[USE].id)
    assert (dev.status.value, dev.tenant.slug) == ("active", "dinkes")
    assert _journal(netbox_api, dev) == [f"Penggunaan aset (run {run_id}) oleh Andi Saputra (dinkes): Server SIMPUS"]
    svc.complete(run_id, "rina.kasi", note="laporan instalasi diterima")
    _closed(svc, run_id)
    assert "bast_barang" in svc.state(run_id).documents


def test_repair_through_sop(svc: RunService, netbox_api: Any, devices: dict[str, Any]) -> None:
    run_id = svc.request("tanbu-asset-4", "budi.teknis", {"assets": FIX, "problem": "PSU rusak, ganti PSU"}).run_id
    svc.complete(run_id, "budi.teknis", note="telaahan")
    svc.complete(run_id, "rina.kasi", note="nota dinas")
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[5].stats["sop_plan"]
    assert {n: (sop_plan["before"][n]["status"], sop_plan["after"][n]["status"]) for n in FIX} == {
        FIX[0]: ("failed", "active"), FIX[1]: ("active", "active")}
    with pytest.raises(ForbiddenError):
        svc.approve(run_id, "budi.teknis", True, "setuju", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "hendra.kabid", True, "perbaikan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="surat penugasan")
    svc.apply(run_id, "budi.teknis")
    for name in FIX:
        dev = netbox_api.dcim.devices.get(devices[name].id)
        assert dev.status.value == "active"
        # The active device's status stays; the journal alone records its maintenance.
        assert _journal(netbox_api, dev) == [f"Perbaikan/pemeliharaan aset (run {run_id}): PSU rusak, ganti PSU"]
    svc.complete(run_id, "budi.teknis", note="laporan disampaikan")
    _closed(svc, run_id)
