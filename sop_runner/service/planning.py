"""Make a plan (check + diff) of an automated step and hash what determines it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from sop_runner.adapters.execution import inputs
from sop_runner.adapters.execution.redact import redact_data
from sop_runner.adapters.execution.runner import EventSink, PlaybookResult, ansible_env, run_playbook
from sop_runner.core.canonical import sha256_hex
from sop_runner.core.catalogue.model import Automation, SopDefinition, Step
from sop_runner.core.plan import PlanInputs
from sop_runner.errors import InvalidInputError
from sop_runner.service import contract

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


def _named_inputs(repo: Path) -> dict[str, list[Path]]:
    env = {**{k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_")}, **ansible_env(repo)}
    return inputs.config_paths(Path(env["ANSIBLE_CONFIG"]), env)


def code_digest(repo: Path, playbook: Path) -> str:
    """Digest of the playbook (and those it imports), every role it reaches, and plugins/.

    Roles are followed through include_role/import_role/meta dependencies and looked up in
    every directory Ansible searches, so a role added beside the playbook to shadow a
    reviewed one changes the digest.
    """
    repo = repo.resolve()
    books = inputs.imported_playbooks(playbook)
    roles = inputs.role_dirs(books, _named_inputs(repo).get("roles_path") or [repo / "roles"])
    paths = [*books, repo / "plugins", *roles]
    inside = [p.resolve() for p in paths if p.exists() and p.resolve().is_relative_to(repo)]
    outside = [p for p in paths if p.exists() and not p.resolve().is_relative_to(repo)]
    code = tree_digest(inside, repo)
    return code if not outside else sha256_hex(code + inputs.file_digest(outside))


def config_digest(repo: Path, playbook: Path, inventory: str | None, secrets: list[str]) -> str:
    """Digest of everything else ansible-playbook reads; refuses check-mode-dependent vars.

    ansible.cfg and the files it names (roles and collections are covered by their own
    digests), group_vars/host_vars beside each playbook and each inventory source, the
    inventories ansible.cfg names, the collections the code names, and the environment.
    """
    env = ansible_env(repo)
    cfg = Path(env["ANSIBLE_CONFIG"])
    named = _named_inputs(repo)
    books = inputs.imported_playbooks(playbook)
    sources = inputs.inventory_sources(inventory, named)
    vars_dirs = [d for b in books for d in inputs.vars_dirs(b.parent)]
    vars_dirs += [d for s in sources for d in inputs.vars_dirs(s.parent if s.is_file() else s)]
    inputs.refuse_check_mode_vars([cfg, *sources, *[d for d in vars_dirs if d.exists()]])
    own_digest = ("roles_path", "collections_path", "collections_paths")
    other = [p for k, ps in named.items() if k not in own_digest for p in ps]
    roles = inputs.role_dirs(books, named.get("roles_path") or [repo / "roles"])
    collections = inputs.collection_dirs([*books, *roles, *sources, cfg], inputs.collection_roots(playbook, named))
    return inputs.describe({
        "ansible.cfg": inputs.file_digest([cfg]),
        "named": inputs.file_digest(other),
        "vars": inputs.file_digest(vars_dirs),
        "collections": inputs.collection_digest(collections),
        "env": inputs.env_digest(env, secrets),
    })


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
    # Before anything runs: a check-mode-dependent vars file is refused, not planned.
    cfg_digest = config_digest(repo, playbook, inv, secrets)
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
    # The role contract: nothing reaches an approver or a letter that no role declared.
    repo_roles = (repo / "roles").resolve()
    roles = [d for d in inputs.role_dirs(inputs.imported_playbooks(playbook), [repo / "roles"])
             if d.resolve().is_relative_to(repo_roles)]
    contract.check(roles, result.stats, result.hosts, contract.playbook_declarations(playbook))
    stats = redact_data(result.stats, secrets)
    plan_inputs = PlanInputs(
        sop_id=sop.id,
        step=step.number,
        code_digest=code_digest(repo, playbook),
        inventory_digest=inv_digest,
        config_digest=cfg_digest,
        extravars=redact_data(extravars, secrets),
        stats=stats,
        tasks=summary,
        diff=redact_data("".join(t.diff for t in tasks if t.diff), secrets),
    )
    return PlanOutcome(result=result, inputs=plan_inputs, hash=plan_inputs.hash(), summary=summary)
