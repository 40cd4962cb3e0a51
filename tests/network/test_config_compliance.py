"""SOP 001 compliance: report in check mode, remediate when applied, then nothing to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab import NetboxLab, lab_down, lab_up, run_playbook, vtysh

pytestmark = [pytest.mark.routers, pytest.mark.netbox]

BOOK = "config_compliance.yml"


@pytest.fixture(scope="module")
def clean(router_lab: Path, network_netbox: NetboxLab) -> NetboxLab:
    lab_down()
    lab_up()
    return network_netbox


def drift() -> None:
    vtysh("rtr-core-01", "configure terminal", "interface vlan110", "description HACKED", "exit",
          "ip route 10.99.0.0/24 10.30.1.254")


def test_clean_lab_is_compliant(clean: NetboxLab, tmp_path: Path) -> None:
    res = run_playbook(BOOK, {"config_compliance_report_dir": str(tmp_path)}, netbox=clean, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "rtr-edge-01: compliant" in res.text and "rtr-core-01: compliant" in res.text
    for host in ("rtr-edge-01", "rtr-core-01", "rtr-edge-02", "rtr-isp"):
        assert res.changed(host) == 0


def test_check_mode_reports_drift_and_changes_nothing(clean: NetboxLab, tmp_path: Path) -> None:
    drift()
    before = vtysh("rtr-core-01", "show running-config")
    res = run_playbook(BOOK, {"config_compliance_report_dir": str(tmp_path)}, netbox=clean, check=True)
    assert res.rc == 0, res.output[-3000:]
    assert "rtr-core-01: DRIFT" in res.text
    assert "-ip route 10.99.0.0/24 10.30.1.254" in res.text
    assert "+ description SVI SKPD-DINKES" in res.text
    assert vtysh("rtr-core-01", "show running-config") == before
    report = json.loads((tmp_path / "rtr-core-01.json").read_text())
    assert report["compliant"] is False
    assert json.loads((tmp_path / "rtr-edge-01.json").read_text())["compliant"] is True


def test_apply_remediates_then_nothing_to_do(clean: NetboxLab) -> None:
    res = run_playbook(BOOK, netbox=clean)
    assert res.rc == 0, res.output[-3000:]
    assert res.changed("rtr-core-01") >= 1
    running = vtysh("rtr-core-01", "show running-config")
    assert "HACKED" not in running and "10.99.0.0/24" not in running
    assert "redistribute connected" in running  # remediation kept what NetBox wants
    res = run_playbook(BOOK, netbox=clean)
    assert res.rc == 0
    assert res.changed("rtr-core-01") == 0 and res.changed("rtr-edge-01") == 0


def test_missing_routing_intent_refuses_to_remediate(clean: NetboxLab) -> None:
    core = clean.api.dcim.devices.get(name="rtr-core-01")
    context = core.local_context_data
    core.update({"local_context_data": None})
    try:
        before = vtysh("rtr-core-01", "show running-config")
        res = run_playbook(BOOK, netbox=clean, limit="rtr-core-01")
        assert res.rc != 0
        assert "no routing intent" in res.text
        assert vtysh("rtr-core-01", "show running-config") == before
    finally:
        core.update({"local_context_data": context})
