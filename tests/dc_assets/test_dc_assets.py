"""SOP 7, 8, 9, 14 and the asset lifecycle as NetBox transactions, against the lab NetBox.

Objects get unique names (other engineers test on the same NetBox); a 4U rack made by SOP 7
makes "too few free units" cheap to reach.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dc_helpers import run_playbook

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]
SUFFIX = uuid.uuid4().hex[:6]
RACK = f"RT-{SUFFIX}"
SRV_A, SRV_B, SRV_C = (f"srv-{x}-{SUFFIX}" for x in "abc")


def _install(name: str, serial: str, position: int = 0, **extra: Any) -> dict[str, Any]:
    return {"dc_assets_name": name, "dc_assets_tenant": "dinkes", "dc_assets_rack": RACK,
            "dc_assets_position": position, "dc_assets_device_type": "poweredge-r750", "dc_assets_serial": serial,
            "dc_assets_power_draw_w": 400, **extra}


def _journal(api: Any, obj_type: str, obj_id: int) -> list[str]:
    return [j.comments for j in api.extras.journal_entries.filter(assigned_object_type=obj_type,
                                                                 assigned_object_id=obj_id)]


def test_sop07_rack_add_plan_apply_idempotent(netbox_api: Any) -> None:
    rack = {"dc_assets_name": RACK, "dc_assets_rack_u_height": 4, "dc_assets_location": "ruang-server-lt2",
            "dc_assets_tenant": "diskominfo"}
    plan = run_playbook("sop07_rack_add.yml", rack, check=True)
    assert plan.rc == 0 and plan.changed == 1, plan.failures
    assert netbox_api.dcim.racks.get(name=RACK) is None, "a plan must not write"
    res = run_playbook("sop07_rack_add.yml", rack)
    assert res.rc == 0, res.failures
    created = netbox_api.dcim.racks.get(name=RACK)
    assert created.u_height == 4
    assert _journal(netbox_api, "dcim.rack", created.id) == [f"Rak {RACK} (4U) ditambahkan di DC Wonosobo"] or len(
        _journal(netbox_api, "dcim.rack", created.id)) == 1
    assert run_playbook("sop07_rack_add.yml", rack).changed == 0


def test_sop08_install_check_mode_then_apply_then_idempotent(netbox_api: Any) -> None:
    want = _install(SRV_A, f"SN-A-{SUFFIX}", position=1)
    plan = run_playbook("sop08_server_install.yml", want, check=True)
    assert plan.rc == 0, plan.failures
    assert plan.plan["checks"]["free_units_before"] == 4 and plan.plan["checks"]["free_units_after"] == 2
    assert plan.plan["position"] == 1
    assert netbox_api.dcim.devices.get(name=SRV_A) is None, "check mode must not write"
    res = run_playbook("sop08_server_install.yml", {**want, "sop_approved_plan": plan.plan})
    assert res.rc == 0, res.failures
    dev = netbox_api.dcim.devices.get(name=SRV_A)
    assert (dev.rack.name, dev.position, dev.status.value, dev.tenant.slug) == (RACK, 1, "active", "dinkes")
    assert sum(p.allocated_draw for p in netbox_api.dcim.power_ports.filter(device_id=dev.id)) == 400
    assert len(_journal(netbox_api, "dcim.device", dev.id)) == 1
    again = run_playbook("sop08_server_install.yml", want)
    assert again.rc == 0 and again.changed == 0
    assert len(_journal(netbox_api, "dcim.device", dev.id)) == 1


def test_sop08_too_few_free_units_refused_with_numbers(netbox_api: Any) -> None:
    res = run_playbook("sop08_server_install.yml", _install(SRV_B, f"SN-B-{SUFFIX}", position=2), check=True)
    assert res.rc != 0
    msg = " ".join(res.failures)
    assert f"too few free units in rack {RACK} at U2: needs 2 (U2-U3), 1 free there; occupied: U2 {SRV_A}" in msg
    assert "rack has 2 of 4 units free (U3-U4)" in msg
    res = run_playbook("sop08_server_install.yml", _install(SRV_B, f"SN-B-{SUFFIX}", position=4), check=True)
    assert res.rc != 0 and "would end at U5" in " ".join(res.failures)
    assert netbox_api.dcim.devices.get(name=SRV_B) is None


def test_sop08_first_fit_then_full_rack_refused(netbox_api: Any) -> None:
    res = run_playbook("sop08_server_install.yml", _install(SRV_B, f"SN-B-{SUFFIX}"))
    assert res.rc == 0, res.failures
    assert netbox_api.dcim.devices.get(name=SRV_B).position == 3
    res = run_playbook("sop08_server_install.yml", _install(SRV_C, f"SN-C-{SUFFIX}"), check=True)
    assert res.rc != 0
    assert f"rack {RACK} has no 2 contiguous free units: 0 of 4 free (none)" in " ".join(res.failures)


def test_preflight_refusals_serial_tenant_power(netbox_api: Any) -> None:
    dup = run_playbook("sop08_server_install.yml", _install(SRV_C, f"SN-A-{SUFFIX}"), check=True)
    assert dup.rc != 0 and f"serial 'SN-A-{SUFFIX}' already belongs to {SRV_A}" in " ".join(dup.failures)
    tenant = run_playbook("sop08_server_install.yml", _install(SRV_C, "SN-X", dc_assets_tenant="tidak-ada"), check=True)
    assert tenant.rc != 0 and "dc_assets_tenant" not in " ".join(tenant.failures)
    assert "no tenant with slug 'tidak-ada'" in " ".join(tenant.failures)
    # R03 has two 16 A / 230 V feeds at 80 %: a primary budget of 2944 W.
    power = run_playbook("sop08_server_install.yml", _install(SRV_C, f"SN-C-{SUFFIX}", dc_assets_rack="R03",
                                                              dc_assets_power_draw_w=5000), check=True)
    assert power.rc != 0
    assert "power budget of rack R03 exceeded" in " ".join(power.failures)
    assert "> 2944 W" in " ".join(power.failures)


def test_sop09_remove_and_sop14_relocate(netbox_api: Any) -> None:
    remove = {"dc_assets_name": SRV_B, "dc_assets_serial": f"SN-B-{SUFFIX}", "dc_assets_tenant": "dinkes"}
    plan = run_playbook("sop09_server_remove.yml", remove, check=True)
    assert plan.rc == 0 and plan.changed == 1, plan.failures
    assert netbox_api.dcim.devices.get(name=SRV_B).rack is not None
    res = run_playbook("sop09_server_remove.yml", remove)
    assert res.rc == 0, res.failures
    dev = netbox_api.dcim.devices.get(name=SRV_B)
    assert dev.rack is None and dev.position is None and dev.status.value == "offline"
    assert run_playbook("sop09_server_remove.yml", remove).changed == 0
    wrong = run_playbook("sop09_server_remove.yml", {**remove, "dc_assets_serial": "SALAH"}, check=True)
    assert wrong.rc != 0 and "wrong device" in " ".join(wrong.failures)
    move = {"dc_assets_name": SRV_A, "dc_assets_rack": RACK, "dc_assets_position": 3}
    res = run_playbook("sop14_device_relocate.yml", move)
    assert res.rc == 0, res.failures
    assert netbox_api.dcim.devices.get(name=SRV_A).position == 3
    assert run_playbook("sop14_device_relocate.yml", move).changed == 0


def test_asset_lifecycle_transitions_with_journal(netbox_api: Any) -> None:
    dev = netbox_api.dcim.devices.get(name=SRV_A)
    before = len(_journal(netbox_api, "dcim.device", dev.id))
    for status in ("offline", "decommissioning"):
        res = run_playbook("asset_lifecycle.yml", {"dc_assets_name": SRV_A, "dc_assets_status": status})
        assert res.rc == 0, res.failures
    assert netbox_api.dcim.devices.get(name=SRV_A).status.value == "decommissioning"
    bad = run_playbook("asset_lifecycle.yml", {"dc_assets_name": SRV_A, "dc_assets_status": "active"}, check=True)
    assert bad.rc != 0
    assert "status decommissioning cannot become active; allowed from decommissioning: inventory, offline" in " ".join(
        bad.failures)
    assert len(_journal(netbox_api, "dcim.device", dev.id)) == before + 2
