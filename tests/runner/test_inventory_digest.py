"""The plan hash covers the whole inventory the playbook ran against."""

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
