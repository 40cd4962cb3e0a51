"""SOP 54: next free VLAN and prefix for an SKPD, gateway on the core, verified."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from netlab import NetboxLab, lab_down, lab_up, run_playbook, vtysh, vtysh_json

pytestmark = [pytest.mark.routers, pytest.mark.netbox]

BOOK = "sop54_network_segment.yml"
REQ = {"network_segment_tenant": "dinkes", "network_segment_name": "SKPD-DINKES-IOT"}


@pytest.fixture(scope="module")
def clean(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    lab_down()
    lab_up()
    return network_netbox


def test_check_mode_plans_and_creates_nothing(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, REQ, netbox=clean, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "+prefix: 10.30.2.0/24" in res.text and "+vid: 101" in res.text
    assert "+ ip address 10.30.2.1/24" in res.text
    assert clean.api.ipam.vlans.get(name="SKPD-DINKES-IOT") is None
    assert "10.30.2.1" not in vtysh("rtr-core-01", "show running-config")


def test_apply_allocates_configures_verifies_then_idempotent(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, REQ, netbox=clean)
    assert res.rc == 0, res.output[-3000:]
    vlan = clean.api.ipam.vlans.get(name="SKPD-DINKES-IOT")
    assert vlan.vid == 101 and vlan.tenant.slug == "dinkes"
    prefix = clean.api.ipam.prefixes.get(vlan_id=vlan.id)
    assert prefix.prefix == "10.30.2.0/24"
    assert "10.30.2.0/24" in vtysh_json("rtr-core-01", "show ip route json")
    # OSPF carries the new network to the edge (core redistributes connected)
    for _ in range(20):
        if "10.30.2.0/24" in vtysh_json("rtr-edge-01", "show ip route json"):
            break
        time.sleep(0.5)
    assert "10.30.2.0/24" in vtysh_json("rtr-edge-01", "show ip route json")
    res = run_playbook(BOOK, REQ, netbox=clean)
    assert res.rc == 0 and res.changed("rtr-core-01") == 0


def test_second_segment_gets_the_next_free_numbers(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, {"network_segment_tenant": "bkd", "network_segment_name": "SKPD-BKD-CCTV"},
                       netbox=clean)
    assert res.rc == 0, res.output[-3000:]
    assert "VLAN 102 SKPD-BKD-CCTV, 10.30.3.0/24, gateway 10.30.3.1/24" in res.text


def test_verification_fails_loudly_when_the_interface_never_comes_up(clean: NetboxLab) -> None:
    # Without the lab's link command the SVI has no kernel interface: FRR accepts the
    # configuration but the gateway never comes up.
    res = run_playbook(BOOK, {"network_segment_tenant": "disdik", "network_segment_name": "SKPD-DISDIK-LAB",
                              "network_segment_link_command": [], "network_segment_verify_retries": 2},
                       netbox=clean)
    assert res.rc != 0
    assert "Verify | 54.5" in res.text and "FAILED" in res.text
