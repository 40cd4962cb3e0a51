"""The role side of the role <-> runner contract: what a role may publish (docs/role-contract.md).

Each role declares in ``meta/sop.yml`` the ``set_stats`` keys it publishes. After every plan
and apply the runner checks what the play published against the declarations of the roles it
ran: a key nobody declared fails the step loudly, because whatever it carries would reach an
approver's screen or a letter without anyone having said what it means.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from sop_runner.errors import SopError

TOP_KEYS = ("sop_plan", "sop_result", "sop_rollback")
"""What a role may publish at all: the plan an approver reads, the apply's result, a rollback flag."""
SHAPES = ("per_host", "mapping", "flag")
"""A published value is a mapping with the listed keys, or one of these shapes."""


class ContractError(SopError):
    """A role published what its contract does not declare, or has no contract."""


def load(role_dir: Path) -> dict[str, Any]:
    """The role's declaration (``meta/sop.yml``), checked for shape."""
    path = role_dir / "meta" / "sop.yml"
    if not path.is_file():
        raise ContractError(f"role {role_dir.name} has no contract {path}",
                            hint="declare what it publishes (docs/role-contract.md)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return _shape(raw.get("publishes", {}) if isinstance(raw, dict) else None, path)


def playbook_declarations(playbook: Path) -> dict[str, Any]:
    """What a playbook's own tasks publish (``vars: sop_publishes`` of its plays), for test
    fixtures and playbooks without roles; the product's playbooks leave it to their roles."""
    plays = yaml.safe_load(playbook.read_text(encoding="utf-8")) or []
    out: dict[str, Any] = {}
    for play in plays if isinstance(plays, list) else []:
        decl = (play.get("vars") or {}).get("sop_publishes") if isinstance(play, dict) else None
        if decl is not None:
            out.update(_shape(decl, playbook))
    return out


def _shape(publishes: Any, path: Path) -> dict[str, Any]:
    if not isinstance(publishes, dict):
        raise ContractError(f"{path}: 'publishes' must be a mapping", hint="see docs/role-contract.md")
    for key, shape in publishes.items():
        if key not in TOP_KEYS:
            raise ContractError(f"{path}: publishes.{key} is not part of the contract",
                                hint=f"a role publishes only {', '.join(TOP_KEYS)}")
        if not (isinstance(shape, list) and all(isinstance(k, str) for k in shape)) and shape not in SHAPES:
            raise ContractError(f"{path}: publishes.{key} must be a list of keys or one of {', '.join(SHAPES)}",
                                hint="see docs/role-contract.md")
    return publishes


def check(
    role_dirs: Iterable[Path], stats: dict[str, Any], hosts: Iterable[str], playbook: dict[str, Any] | None = None
) -> None:
    """Refuse anything in ``stats`` that no role of the play (nor the playbook itself) declares."""
    declared: dict[str, list[Any]] = {}
    names = []
    for name, publishes in [*((d.name, load(d)) for d in role_dirs), ("the playbook", playbook or {})]:
        names.append(name)
        for key, shape in publishes.items():
            declared.setdefault(key, []).append(shape)
    host_set = set(hosts)
    for key, value in stats.items():
        shapes = declared.get(key)
        if not shapes:
            raise ContractError(
                f"the play published {key!r}, which none of its roles ({', '.join(names) or 'none'}) declares",
                hint="declare it in the role's meta/sop.yml, or stop publishing it",
            )
        if any(s in ("mapping", "flag") for s in shapes):
            continue
        if not isinstance(value, dict):
            raise ContractError(f"{key} must be a mapping, the play published a {type(value).__name__}")
        allowed = {k for s in shapes if isinstance(s, list) for k in s}
        if "per_host" in shapes:
            allowed |= host_set
        extra = sorted(set(value) - allowed)
        if extra:
            raise ContractError(
                f"{key} carries undeclared key(s) {', '.join(map(repr, extra))} (roles: {', '.join(names)})",
                hint="declare them in the role's meta/sop.yml (docs/role-contract.md)",
            )
