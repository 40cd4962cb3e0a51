"""net_config against the FRR lab: check mode, apply, idempotence, and the error cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab import run_playbook, vtysh

pytestmark = pytest.mark.routers

PLAY = """
- hosts: {host}
  gather_facts: false
  tasks:
    - kominfo.sop.net_config:
        config: {config}
        state: {state}
{extra}
      register: result
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{{{ result | to_json }}}}"
        dest: {out}
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


def net_config(tmp_path: Path, config: str, *, host: str = "rtr-edge-01", check: bool = False,
               state: str = "present", extra: str = "") -> tuple[dict, str]:
    out = tmp_path / "result.json"
    book = tmp_path / "play.yml"
    book.write_text(PLAY.format(host=host, config=json.dumps(config), state=state, extra=extra, out=out))
    res = run_playbook(book, check=check)
    assert out.exists(), res.output[-3000:]
    return json.loads(out.read_text()), res.output


ROUTE = "ip route 203.0.113.77/32 203.0.113.3"


def test_check_mode_reports_diff_and_changes_nothing(router_lab: Path, tmp_path: Path) -> None:
    before = vtysh("rtr-edge-01", "show running-config")
    result, output = net_config(tmp_path, ROUTE + "\n", check=True)
    assert result["changed"] is True
    assert result["commands"] == [ROUTE]
    assert "+" + ROUTE in output  # the diff is printed
    assert vtysh("rtr-edge-01", "show running-config") == before


def test_apply_then_idempotent_then_absent(router_lab: Path, tmp_path: Path) -> None:
    result, _ = net_config(tmp_path, ROUTE + "\n")
    assert result["changed"] and result["applied"] == [ROUTE] and not result["rejected"]
    assert ROUTE in vtysh("rtr-edge-01", "show running-config")
    saved = (router_lab / "rtr-edge-01" / "etc" / "frr.conf").read_text()
    assert ROUTE in saved and "hostname rtr-edge-01" in saved
    result, _ = net_config(tmp_path, ROUTE + "\n")
    assert result["changed"] is False
    result, _ = net_config(tmp_path, ROUTE + "\n", state="absent")
    assert result["changed"] is True
    assert ROUTE not in vtysh("rtr-edge-01", "show running-config")


def test_rejected_line_fails_clearly_with_applied_and_rejected(router_lab: Path, tmp_path: Path) -> None:
    config = "interface eth2\n description public segment test\n frobnicate the router\n"
    result, _ = net_config(tmp_path, config)
    assert result["failed"] is True
    assert "refused 1 line" in result["msg"] and "frobnicate the router" in result["msg"]
    assert result["rejected"] == [{"line": "frobnicate the router",
                                   "message": "% Unknown command: frobnicate the router"}]
    assert "description public segment test" in result["applied"]
    # not saved: the startup file still has the baseline description
    saved = (router_lab / "rtr-edge-01" / "etc" / "frr.conf").read_text()
    assert "public segment test" not in saved
    net_config(tmp_path, "interface eth2\n description Public segment 203.0.113.0/24\n")


def test_unreachable_device_names_the_host(router_lab: Path, tmp_path: Path) -> None:
    result, _ = net_config(tmp_path, ROUTE + "\n", extra="        host: 127.0.100.99\n        timeout: 3")
    assert result["failed"] is True
    assert result["msg"].startswith("rtr-edge-01 (127.0.100.99:2222): unreachable")


def test_wrong_credentials_name_the_host_and_hide_the_password(router_lab: Path, tmp_path: Path) -> None:
    result, output = net_config(tmp_path, ROUTE + "\n", extra="        password: not-the-password")
    assert result["failed"] is True
    assert "rtr-edge-01 (127.0.100.11:2222): authentication failed for user 'sopnet'" in result["msg"]
    assert "not-the-password" not in output
