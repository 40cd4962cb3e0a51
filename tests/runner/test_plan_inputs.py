"""What a plan is bound to: the whole inventory it ran against, and the lock keys of its targets."""

from __future__ import annotations

from pathlib import Path

from sop_runner.service.planning import inventory_digest


def test_directory_inventory_counts_every_file(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    rtr-edge-01:\n")
    (inv / "host_vars" / "rtr-edge-01.yml").write_text("ansible_host: 10.255.0.1\n")
    first = inventory_digest(str(inv))
    assert inventory_digest(str(inv)) == first
    (inv / "host_vars" / "rtr-edge-01.yml").write_text("ansible_host: 10.255.0.9\n")
    assert inventory_digest(str(inv)) != first, "a changed host_vars file must change the digest"


def test_file_inline_and_none(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("all: {}\n")
    before = inventory_digest(str(hosts))
    hosts.write_text("all: {hosts: {a: {}}}\n")
    assert inventory_digest(str(hosts)) != before
    assert inventory_digest("a,b,") != inventory_digest("a,c,")
    assert inventory_digest(None) == inventory_digest("")


def test_one_target_template_locks_each_host() -> None:
    from sop_runner.core.catalogue.model import Automation
    from sop_runner.service.planning import targets

    auto = Automation.model_validate({
        "status": "automated", "playbook": "playbooks/x.yml", "role": "x",
        "targets": ["{% for s in params.servers %}server:{{ s }} {% endfor %}", "server:{{ params.servers[0] }}"],
    })
    assert targets(auto, {"servers": ["srv-b", "srv-a"]}, {}) == ["server:srv-b", "server:srv-a"]
