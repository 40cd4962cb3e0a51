"""Rendering Ansible task diffs: stable across runs of the same change."""

from __future__ import annotations

from sop_runner.adapters.execution.diffs import render_task_diff


def _template_diff(tmp: str) -> dict[str, str]:
    return {"before": "a\n", "after": "b\n", "before_header": "/etc/nftables.conf", "after_header": tmp}


def test_temporary_source_names_do_not_change_the_diff() -> None:
    first = render_task_diff(
        _template_diff("/root/.ansible/tmp/ansible-tmp-1764031234.12-99-1234/source"), "srv-01", "nft")
    second = render_task_diff(
        _template_diff("/root/.ansible/tmp/ansible-tmp-1764039999.55-42-4321/source"), "srv-01", "nft")
    assert first == second
    assert "--- /etc/nftables.conf" in first and "+++ srv-01 | nft (after)" in first
    assert "-a" in first and "+b" in first


def test_real_paths_are_kept() -> None:
    out = render_task_diff(_template_diff("roles/dmz_incident/templates/nftables.conf.j2"), "srv-01", "nft")
    assert "+++ roles/dmz_incident/templates/nftables.conf.j2" in out
