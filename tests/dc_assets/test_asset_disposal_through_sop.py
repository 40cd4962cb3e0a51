"""Asset disposal (document 004, procedure 5) through `sop` on the lab NetBox.

Two devices are disposed of in one run: the Kepala Bidang approves the plan that shows each
one's status before and after, the apply moves both to decommissioning with a journal entry.
A list naming a device NetBox does not have is refused at plan time and nothing changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SFX = uuid.uuid4().hex[:6]
OLD = [f"old-a-{SFX}", f"old-b-{SFX}"]


@pytest.fixture
def svc(catalogue_runner: Callable[..., RunService]) -> RunService:
    return catalogue_runner()


@pytest.fixture
def old_devices(netbox_api: Any) -> Iterator[list[Any]]:
    dtype = netbox_api.dcim.device_types.get(slug="poweredge-r250")
    role = netbox_api.dcim.device_roles.get(slug="server")
    site = netbox_api.dcim.sites.get(slug="dc-wonosobo")
    devs = [netbox_api.dcim.devices.create(name=n, device_type=dtype.id, role=role.id, site=site.id,
                                           status=status) for n, status in zip(OLD, ("active", "offline"), strict=True)]
    yield devs
    for dev in devs:
        dev.delete()


def _to_plan(svc: RunService, assets: list[str]) -> str:
    run_id = svc.request("tanbu-asset-5", "budi.teknis", {"assets": assets, "reason": "Rusak berat, habis masa pakai"}
                         ).run_id
    svc.complete(run_id, "budi.teknis", note="identifikasi kebutuhan penghapusan")
    svc.decide(run_id, "rina.kasi", "ya", "persyaratan penghapusan terpenuhi")
    return run_id


def test_disposal_through_sop(svc: RunService, netbox_api: Any, old_devices: list[Any]) -> None:
    bad = _to_plan(svc, [OLD[0], f"tidak-ada-{SFX}"])
    with pytest.raises(ConflictError, match=f"no device named 'tidak-ada-{SFX}' in NetBox"):
        svc.plan(bad, "budi.teknis")
    assert netbox_api.dcim.devices.get(name=OLD[0]).status.value == "active", "a refused plan changes nothing"
    svc.cancel(bad, "hendra.kabid", "daftar aset salah")

    run_id = _to_plan(svc, OLD)
    svc.plan(run_id, "budi.teknis")
    sop_plan = svc.state(run_id).plans[5].stats["sop_plan"]
    assert {n: (sop_plan["before"][n]["status"], sop_plan["after"][n]["status"]) for n in OLD} == {
        OLD[0]: ("active", "decommissioning"), OLD[1]: ("offline", "decommissioning")}
    svc.approve(run_id, "hendra.kabid", True, "penghapusan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="surat penugasan")
    svc.apply(run_id, "budi.teknis")
    for dev in old_devices:
        assert netbox_api.dcim.devices.get(dev.id).status.value == "decommissioning"
        journal = [j.comments for j in netbox_api.extras.journal_entries.filter(assigned_object_type="dcim.device",
                                                                              assigned_object_id=dev.id)]
        assert journal == [f"Penghapusan aset (run {run_id}): Rusak berat, habis masa pakai"]
    svc.complete(run_id, "budi.teknis", note="dilaporkan")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, state.last_error
    assert OLD[1] in Path(state.documents["laporan_penghapusan"]["files"]["md"]).read_text(encoding="utf-8")
