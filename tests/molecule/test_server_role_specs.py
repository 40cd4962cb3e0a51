"""Fast checks of the server roles (os_upgrade, os_migrate, dmz_incident) without instances.

House style: meta/argument_specs.yml on every role, with option keys equal to the keys of
defaults/main.yml; every variable prefixed with the role name; task names carry the phase and
the SOP step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = {"os_upgrade": "24", "os_migrate": "25", "dmz_incident": "59"}
PHASES = ("Preflight", "Change", "Verify", "Rollback")


def _load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("role", sorted(ROLES))
def test_argument_spec_keys_equal_defaults(role: str) -> None:
    defaults = _load(REPO / "roles" / role / "defaults" / "main.yml")
    spec = _load(REPO / "roles" / role / "meta" / "argument_specs.yml")
    assert isinstance(defaults, dict) and isinstance(spec, dict)
    options = spec["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    assert all(key.startswith(f"{role}_") for key in defaults)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_internal_vars_are_double_underscored(role: str) -> None:
    internals = _load(REPO / "roles" / role / "vars" / "main.yml")
    assert isinstance(internals, dict)
    assert all(key.startswith(f"__{role}_") for key in internals)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_task_names_carry_phase_and_sop_step(role: str) -> None:
    sop = ROLES[role]
    pattern = re.compile(rf"^({'|'.join(PHASES)}) \| SOP {sop} step \d+ \| ")
    names: list[str] = []
    for path in sorted((REPO / "roles" / role).glob("*/*.yml")):
        if path.parent.name not in ("tasks", "handlers"):
            continue
        for task in _load(path) or []:
            names.append(task["name"])
    assert names
    bad = [n for n in names if not pattern.match(n)]
    assert not bad, bad


@pytest.mark.parametrize("playbook", ["sop24_os_upgrade.yml", "sop25_os_migrate.yml", "sop59_dmz_incident.yml"])
def test_playbooks_apply_their_role(playbook: str) -> None:
    plays = _load(REPO / "playbooks" / playbook)
    assert isinstance(plays, list) and len(plays) in (1, 2)
    # SOP 24 and 59 first refuse a host pattern that matches nothing (on localhost).
    if len(plays) == 2:
        assert plays[0]["hosts"] == "localhost" and "roles" not in plays[0]
    role = plays[-1]["roles"][0]["role"]
    assert role in ROLES and f"sop{ROLES[role]}_" in playbook
