"""Conventions the whole tree keeps: unique test module names, argument_specs = defaults."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def test_test_modules_have_unique_basenames() -> None:
    """pytest imports test modules by basename (rootdir mode): two equal names break collection."""
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_role_declares_its_defaults_in_argument_specs(role: Path) -> None:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = set(specs["argument_specs"]["main"]["options"])
    defaults = set(yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {})
    assert options == defaults, f"only in specs: {options - defaults}; only in defaults: {defaults - options}"
    assert all(name.startswith(role.name + "_") for name in options), "role variables carry the role's name"
