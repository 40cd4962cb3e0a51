"""SOP 57 router half: route + NAT a public address reserved in NetBox; reach it from outside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from netlab import NetboxLab, in_ns, lab_down, lab_up, run_playbook, vtysh

pytestmark = [pytest.mark.routers, pytest.mark.netbox]

BOOK = "sop57_public_ip_nat.yml"
PUBLIC = "203.0.113.20"


def probe(expect: str = "", attempts: int = 10) -> str:
    """What the server behind PUBLIC answers from the upstream router ('' when nothing does).

    With ``expect`` it retries for a while: on a loaded 2-core machine the first SYN can be
    lost while the namespaces' neighbour entries settle, which is not what these tests check.
    """
    answer = ""
    for _ in range(attempts if expect else 1):
        res = in_ns("rtr-isp", "socat", "-T2", "-", f"TCP:{PUBLIC}:80,bind=192.0.2.1,connect-timeout=2")
        answer = res.stdout.strip()
        if answer == expect:
            break
        time.sleep(1)
    return answer


def nat_rules() -> str:
    return in_ns("dmz-gw", "nft", "list", "table", "ip", "sop_nat").stdout


@pytest.fixture(scope="module")
def reserved(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    """What the netbox_public_ip role leaves behind: the address reserved, NAT inside set."""
    lab_down()
    lab_up()
    nb = network_netbox.api
    inside = nb.ipam.ip_addresses.get(address="10.30.1.12/24")
    nb.ipam.ip_addresses.create(address=f"{PUBLIC}/24", status="reserved", nat_inside=inside.id,
                                tenant=nb.tenancy.tenants.get(slug="bkd").id,
                                description="SOP 57 test reservation")
    return network_netbox


def test_check_mode_plans_and_changes_nothing(reserved: NetboxLab) -> None:
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC}, netbox=reserved, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert f"+ip route {PUBLIC}/32 203.0.113.3" in res.text
    assert "dnat to 10.30.1.12" in res.text
    assert PUBLIC not in vtysh("rtr-edge-01", "show running-config")
    assert PUBLIC not in nat_rules()
    assert probe() == ""


def test_apply_reaches_the_server_then_idempotent(reserved: NetboxLab) -> None:
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC}, netbox=reserved)
    assert res.rc == 0, res.output[-3000:]
    assert res.changed("dmz-gw") == 2
    assert probe("srv-dmz-bkd-01") == "srv-dmz-bkd-01"
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC}, netbox=reserved)
    assert res.rc == 0 and res.changed("dmz-gw") == 0


def test_compliance_knows_the_published_address(reserved: NetboxLab) -> None:
    res = run_playbook("config_compliance.yml", netbox=reserved, check=True, limit="rtr-edge-01")
    assert res.rc == 0 and "rtr-edge-01: compliant" in res.text


def test_verification_fails_loudly_when_traffic_does_not_arrive(reserved: NetboxLab) -> None:
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC, "public_ip_nat_state": "absent"},
                       netbox=reserved)
    assert res.rc == 0, res.output[-3000:]
    # a wrong next hop: the change is pushed but traffic never reaches the NAT gateway
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC, "public_ip_nat_next_hop": "203.0.113.99",
                              "public_ip_nat_verify_retries": 2}, netbox=reserved)
    assert res.rc != 0
    assert f"SOP 57 verification FAILED: {PUBLIC} does not reach srv-dmz-bkd-01" in res.text
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC, "public_ip_nat_next_hop": "203.0.113.99",
                              "public_ip_nat_state": "absent"}, netbox=reserved)
    assert res.rc == 0


def test_absent_withdraws_then_idempotent(reserved: NetboxLab) -> None:
    run_playbook(BOOK, {"public_ip_nat_address": PUBLIC}, netbox=reserved)
    assert probe("srv-dmz-bkd-01") == "srv-dmz-bkd-01"
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC, "public_ip_nat_state": "absent"},
                       netbox=reserved)
    assert res.rc == 0 and res.changed("dmz-gw") == 2
    assert probe() == ""
    assert PUBLIC not in nat_rules()
    assert f"ip route {PUBLIC}/32" not in vtysh("rtr-edge-01", "show running-config")
    # the baseline publication of 203.0.113.10 is untouched
    assert "203.0.113.10" in nat_rules()
    res = run_playbook(BOOK, {"public_ip_nat_address": PUBLIC, "public_ip_nat_state": "absent"},
                       netbox=reserved)
    assert res.rc == 0 and res.changed("dmz-gw") == 0


def test_unreserved_address_is_refused(reserved: NetboxLab) -> None:
    res = run_playbook(BOOK, {"public_ip_nat_address": "203.0.113.99"}, netbox=reserved)
    assert res.rc != 0
    assert "must be reserved in NetBox" in res.text
