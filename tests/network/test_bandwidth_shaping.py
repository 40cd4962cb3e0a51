"""SOP 55: HTB class per SKPD on dmz-gw, rate from NetBox, read back from the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from netlab import NetboxLab, in_ns, lab_down, lab_up, run_playbook

pytestmark = [pytest.mark.routers, pytest.mark.netbox]

BOOK = "sop55_bandwidth.yml"


def classes() -> str:
    return in_ns("dmz-gw", "tc", "class", "show", "dev", "eth1").stdout


@pytest.fixture(scope="module")
def clean(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    lab_down()
    lab_up()
    return network_netbox


def test_check_mode_plans_and_changes_nothing(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "dinkes"}, netbox=clean, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "rate 50000kbit" in res.text and "10.30.1.11" in res.text
    assert classes().strip() == ""


def test_apply_reads_back_then_idempotent(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "dinkes"}, netbox=clean)
    assert res.rc == 0, res.output[-3000:]
    assert "rate 50Mbit ceil 50Mbit" in classes()
    nft = in_ns("dmz-gw", "nft", "list", "table", "ip", "sop_qos").stdout
    assert 'ip daddr 10.30.1.11 meta priority set' in nft
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "dinkes"}, netbox=clean)
    assert res.rc == 0 and res.changed("dmz-gw") == 0


def test_netbox_rate_change_is_applied(clean: NetboxLab) -> None:
    tenant = clean.api.tenancy.tenants.get(slug="dinkes")
    tenant.update({"custom_fields": {"sop_bandwidth_mbps": 80}})
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "dinkes"}, netbox=clean)
    assert res.rc == 0 and res.changed("dmz-gw") == 1
    assert "rate 80Mbit ceil 80Mbit" in classes()


def test_absent_removes_the_class(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "dinkes", "bandwidth_shaping_state": "absent"},
                       netbox=clean)
    assert res.rc == 0, res.output[-3000:]
    assert "rate" not in classes()


def test_tenant_without_servers_is_refused(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, {"bandwidth_shaping_tenant": "diskominfo"}, netbox=clean)
    assert res.rc != 0
    assert "no bandwidth in NetBox" in res.text
