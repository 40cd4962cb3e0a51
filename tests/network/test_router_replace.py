"""SOP 56 end to end on the lab: check mode, a rollback drill, the replacement, a second run."""

from __future__ import annotations

from pathlib import Path

import pytest
from netlab import ROUTER_LAB, NetboxLab, core_reaches_upstream, run_playbook, vtysh, vtysh_json

pytestmark = [pytest.mark.routers, pytest.mark.netbox, pytest.mark.slow]

BOOK = "sop56_router_replace.yml"


def cables() -> str:
    return (ROUTER_LAB / "cables").read_text().strip()


def device(nb: NetboxLab, name: str):
    return nb.api.dcim.devices.get(name=name)


def bgp_established(router: str) -> bool:
    peers = vtysh_json(router, "show bgp summary json").get("ipv4Unicast", {}).get("peers", {})
    return bool(peers) and all(p["state"] == "Established" for p in peers.values())


@pytest.fixture(scope="module")
def replace_lab(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    from netlab import lab_down, lab_up

    lab_down()
    lab_up()
    return network_netbox


def test_check_mode_plans_and_changes_nothing(replace_lab: NetboxLab, tmp_path: Path) -> None:
    backup = tmp_path / "backup.txt"
    res = run_playbook(BOOK, {"router_replace_backup_path": str(backup)}, netbox=replace_lab, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "+router bgp 64512" in res.output  # the planned config of the spare
    assert "rtr-edge-01: status active -> offline" in res.text  # the planned NetBox write-back
    assert cables() == "rtr-edge-01"
    assert "router bgp" not in vtysh("rtr-edge-02", "show running-config")
    assert not backup.exists()
    assert device(replace_lab, "rtr-edge-02").status.value == "inventory"


def test_forced_verification_failure_rolls_back(replace_lab: NetboxLab, tmp_path: Path) -> None:
    backup = tmp_path / "backup.txt"
    res = run_playbook(BOOK, {"router_replace_backup_path": str(backup),
                              "router_replace_force_verify_failure": True}, netbox=replace_lab)
    assert res.rc != 0
    assert "ROLLED BACK" in res.text and "carries traffic again (verified)" in res.text
    assert res.recap("rtr-edge-02")["rescued"] == 1
    # the old router carries traffic again
    assert cables() == "rtr-edge-01"
    assert bgp_established("rtr-edge-01")
    assert core_reaches_upstream()
    # the backup was taken, NetBox is unchanged
    assert "hostname rtr-edge-01" in backup.read_text()
    assert device(replace_lab, "rtr-edge-01").status.value == "active"
    assert device(replace_lab, "rtr-edge-02").status.value == "inventory"
    journal = list(replace_lab.api.extras.journal_entries.filter(
        assigned_object_type="dcim.device", assigned_object_id=device(replace_lab, "rtr-edge-01").id))
    assert any("SOP 56" in j.comments for j in journal)


def test_replacement_succeeds_and_is_recorded(replace_lab: NetboxLab, tmp_path: Path) -> None:
    res = run_playbook(BOOK, {"router_replace_backup_path": str(tmp_path / "b.txt")}, netbox=replace_lab)
    assert res.rc == 0, res.output[-4000:]
    assert cables() == "rtr-edge-02"
    assert bgp_established("rtr-edge-02")
    assert core_reaches_upstream()
    assert "hostname rtr-edge-02" in (ROUTER_LAB / "rtr-edge-02" / "etc" / "frr.conf").read_text()
    old, new = device(replace_lab, "rtr-edge-01"), device(replace_lab, "rtr-edge-02")
    assert old.status.value == "offline" and new.status.value == "active"
    assert new.primary_ip4.address == "10.30.0.2/24" and old.primary_ip4 is None
    wan = replace_lab.api.ipam.ip_addresses.get(address="198.51.100.2/30")
    assert wan.assigned_object.device.name == "rtr-edge-02"
    assert new.local_context_data["routing"]["bgp"]["asn"] == 64512
    eth0 = replace_lab.api.dcim.interfaces.get(device="rtr-edge-02", name="eth0")
    assert eth0.cable is not None


def test_second_run_changes_nothing(replace_lab: NetboxLab, tmp_path: Path) -> None:
    res = run_playbook(BOOK, {"router_replace_backup_path": str(tmp_path / "b.txt")}, netbox=replace_lab)
    assert res.rc == 0, res.output[-3000:]
    assert res.changed("rtr-edge-02") == 0
    assert "nothing to do" in res.text


def test_compliance_follows_the_replacement(replace_lab: NetboxLab) -> None:
    res = run_playbook("config_compliance.yml", netbox=replace_lab, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "rtr-edge-02: compliant" in res.text
    assert "rtr-core-01: compliant" in res.text
    assert "rtr-edge-01: compliant" not in res.text  # offline: out of scope
