"""The role <-> runner contract: every role declares what it publishes, and publishes only that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sop_runner.service import contract

ROLES = Path(__file__).resolve().parents[2] / "roles"


def _published(node: Any, found: dict[str, set[str] | None]) -> None:
    """Collect set_stats keys (and the literal inner keys of a mapping value) from task YAML."""
    if isinstance(node, dict):
        stats = node.get("ansible.builtin.set_stats")
        if isinstance(stats, dict) and isinstance(stats.get("data"), dict):
            for key, value in stats["data"].items():
                inner = set(value) if isinstance(value, dict) else None
                prev = found.get(key, set())
                found[key] = None if inner is None or prev is None else prev | inner
        for value in node.values():
            _published(value, found)
    elif isinstance(node, list):
        for item in node:
            _published(item, found)


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_role_publishes_only_what_it_declares(role: str) -> None:
    declared = contract.load(ROLES / role)
    found: dict[str, set[str] | None] = {}
    for tasks in (ROLES / role / "tasks").glob("*.yml"):
        _published(yaml.safe_load(tasks.read_text(encoding="utf-8")), found)
    assert set(found) == set(declared), f"{role}: publishes {sorted(found)}, declares {sorted(declared)}"
    for key, inner in found.items():
        shape = declared[key]
        if isinstance(shape, list) and inner is not None:
            assert inner <= set(shape), f"{role}: {key} keys {sorted(inner - set(shape))} undeclared"


def test_undeclared_keys_fail_loudly(tmp_path: Path) -> None:
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "sop.yml").write_text("publishes:\n  sop_plan: [address]\n  sop_result: per_host\n")
    contract.check([role], {"sop_plan": {"address": "x"}, "sop_result": {"web1": "ok"}}, ["web1"])
    with pytest.raises(contract.ContractError, match=r"undeclared key.*'pool'"):
        contract.check([role], {"sop_plan": {"address": "x", "pool": "y"}}, [])
    with pytest.raises(contract.ContractError, match="none of its roles"):
        contract.check([role], {"sop_rollback": True}, [])
    with pytest.raises(contract.ContractError, match=r"undeclared key.*'db9'"):
        contract.check([role], {"sop_result": {"db9": "ok"}}, ["web1"])
    (role / "meta" / "sop.yml").write_text("publishes:\n  secrets: [token]\n")
    with pytest.raises(contract.ContractError, match="not part of the contract"):
        contract.load(role)
    with pytest.raises(contract.ContractError, match="has no contract"):
        contract.load(tmp_path / "none")
