"""House rule: every option in meta/argument_specs.yml has a default in defaults/main.yml and back."""

from __future__ import annotations

import pytest
import yaml

from sop_runner.lab.paths import repo_root

ROLES = ["backup", "restore", "db_lifecycle", "dbms_upgrade"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role: str) -> None:
    base = repo_root() / "roles" / role
    defaults = yaml.safe_load((base / "defaults" / "main.yml").read_text(encoding="utf-8"))
    spec = yaml.safe_load((base / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = spec["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    assert all(name.startswith(f"{role}_") for name in options)
    for name, opt in options.items():
        if "default" in opt:
            assert opt["default"] == defaults[name], name
