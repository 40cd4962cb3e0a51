"""Make a plan (check + diff) of an automated step and hash what determines it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from sop_runner.adapters.execution.redact import redact_data
from sop_runner.adapters.execution.runner import EventSink, PlaybookResult, run_playbook
from sop_runner.core.canonical import sha256_hex
from sop_runner.core.catalogue.model import Automation, SopDefinition, Step
from sop_runner.core.plan import PlanInputs
from sop_runner.errors import InvalidInputError

_JINJA = SandboxedEnvironment(undefined=StrictUndefined)


def render_value(value: Any, params: dict[str, Any], run: dict[str, Any]) -> Any:
    """Render a binding value: strings are Jinja2 over ``params`` and ``run``."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return _JINJA.from_string(value).render(params=params, run=run)
    if isinstance(value, list):
        return [render_value(v, params, run) for v in value]
    return value


def bound_vars(auto: Automation, params: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The role variables for this run."""
    try:
        return {k: render_value(v, params, run) for k, v in auto.vars.items()}
    except Exception as exc:
        raise InvalidInputError(
            f"cannot render automation vars: {exc}", hint="check the SOP's automation.vars"
        ) from exc


def targets(auto: Automation, params: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """The lock keys of this step for this run.

    A key has no whitespace, so one target template may give several keys separated by
    whitespace (``{% for s in params.servers %}server:{{ s }} {% endfor %}``): a run over
    several hosts then locks each host, and two runs whose host lists overlap exclude each
    other however the lists are written.
    """
    keys: list[str] = []
    for template in auto.targets:
        for key in str(render_value(template, params, run)).split():
            if key not in keys:
                keys.append(key)
    return keys


def _roles_of(playbook: Path) -> set[str]:
    """Role names a playbook uses (roles: lists and include/import_role tasks)."""
    names: set[str] = set()
    try:
        plays = yaml.safe_load(playbook.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return names

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, val in node.items():
                if key == "roles" and isinstance(val, list):
                    for r in val:
                        names.add(str(r.get("role", r.get("name", ""))) if isinstance(r, dict) else str(r))
                elif key.endswith(("include_role", "import_role")) and isinstance(val, dict):
                    names.add(str(val.get("name", "")))
                else:
                    walk(val)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(plays)
    return {n for n in names if n and "{{" not in n}


def tree_digest(paths: list[Path], root: Path) -> str:
    """SHA-256 over the relative names and contents of every file under ``paths``."""
    parts: list[str] = []
    for base in sorted(paths):
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc" or "molecule" in f.relative_to(root).parts[2:3]:
                continue
            parts.append(f"{f.relative_to(root)}\0{sha256_hex(f.read_bytes())}")
    return sha256_hex("\n".join(parts))


def code_digest(repo: Path, playbook: Path) -> str:
    """Digest of the playbook, the roles it uses and the project's plugins."""
    paths = [playbook, repo / "plugins"]
    paths += [repo / "roles" / r for r in _roles_of(playbook) if (repo / "roles" / r).is_dir()]
    return tree_digest([p for p in paths if p.exists()], repo)


def inventory_digest(inventory: str | None) -> str:
    """Digest of what the inventory says: a file's bytes, or every file of a directory.

    A directory inventory (hosts.yml + group_vars/ + host_vars/) must count whole: an address
    changed in host_vars after the approval makes the approved plan stale.
    """
    if not inventory:
        return sha256_hex("")
    path = Path(inventory)
    if path.is_file():
        return sha256_hex(path.read_bytes())
    if path.is_dir():
        return tree_digest([path], path.parent)
    return sha256_hex(inventory)  # e.g. "host1,host2," given inline


@dataclass(slots=True)
class PlanOutcome:
    """A plan (or an apply) and its hash."""

    result: PlaybookResult
    inputs: PlanInputs
    hash: str
    summary: list[dict[str, Any]]


def execute(
    *,
    sop: SopDefinition,
    step: Step,
    repo: Path,
    workdir: Path,
    ident: str,
    extravars: dict[str, Any],
    check: bool,
    inventory: str | None,
    secrets: list[str],
    on_event: EventSink | None = None,
) -> PlanOutcome:
    """Run the step's playbook (check mode for a plan) and hash the outcome."""
    assert step.automation is not None
    playbook = (repo / step.automation.playbook).resolve()
    inv = inventory
    inv_digest = inventory_digest(inv)
    result = run_playbook(
        playbook,
        extravars=extravars,
        check=check,
        workdir=workdir,
        ident=ident,
        repo_root=repo,
        inventory=inv,
        secrets=secrets,
        on_event=on_event,
    )
    # Hosts of one batch run in parallel and their results arrive in any order: group the
    # task list and the diff by host (a stable sort keeps each host's task order), so two
    # plans of the same change hash the same.
    tasks = sorted(result.tasks, key=lambda t: t.host)
    summary = [{"host": t.host, "task": t.task, "changed": t.changed} for t in tasks if not t.skipped]
    stats = redact_data(result.stats, secrets)
    inputs = PlanInputs(
        sop_id=sop.id,
        step=step.number,
        code_digest=code_digest(repo, playbook),
        inventory_digest=inv_digest,
        extravars=redact_data(extravars, secrets),
        stats=stats,
        tasks=summary,
        diff=redact_data("".join(t.diff for t in tasks if t.diff), secrets),
    )
    return PlanOutcome(result=result, inputs=inputs, hash=inputs.hash(), summary=summary)
