"""Cross-reference checks that one file alone cannot make.

Actors exist and map to known roles, branch targets exist, step numbers are unique and in
order, documents exist, bound playbooks exist and their variables match the role's
``meta/argument_specs.yml``, plan approvals point at automated steps, and no path through
the flow reaches an automated step without passing the approval of its plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sop_runner.core.catalogue.loader import LoadResult, Problem, load_catalogue, load_roles
from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.run import machine


def role_options(repo_root: Path, role: str) -> dict[str, dict[str, Any]] | None:
    """Options of a role's ``main`` entry point, or None if the role has no argument_specs."""
    spec_file = repo_root / "roles" / role / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        return None
    data = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    main = (data.get("argument_specs") or {}).get("main") or {}
    options = main.get("options") or {}
    return {str(k): dict(v or {}) for k, v in options.items()}


def check_definition(sop: SopDefinition, file: str, roles: dict[str, str], repo_root: Path) -> list[Problem]:
    """Every cross-reference problem of one definition."""
    out: list[Problem] = []

    def bad(where: str, reason: str) -> None:
        out.append(Problem(file, where, reason))

    actor_ids = [a.id for a in sop.actors]
    for i, actor in enumerate(sop.actors):
        if actor_ids.count(actor.id) > 1:
            bad(f"actors[{i}].id", f"actor id {actor.id!r} is used twice")
        if actor.role not in roles:
            bad(f"actors[{i}].role", f"unknown role {actor.role!r}; known: {', '.join(sorted(roles))}")

    numbers = [s.number for s in sop.steps]
    if numbers != sorted(set(numbers)):
        bad("steps", f"step numbers must be unique and ascending, got {numbers}")
    doc_ids = {d.id for d in sop.documents}
    param_names = [p.name for p in sop.parameters]
    for name in {n for n in param_names if param_names.count(n) > 1}:
        bad("parameters", f"parameter {name!r} is defined twice")

    for i, step in enumerate(sop.steps):
        where = f"steps[{i}](number {step.number})"
        if step.actor not in actor_ids:
            bad(f"{where}.actor", f"unknown actor {step.actor!r}; known: {', '.join(actor_ids)}")
        if step.branches is not None:
            for label, target in (("ya", step.branches.ya), ("tidak", step.branches.tidak)):
                if target is None or target == "end":
                    continue
                if target not in numbers:
                    bad(f"{where}.branches.{label}", f"step {target} does not exist")
                elif target == step.number:
                    bad(f"{where}.branches.{label}", "a branch cannot point at its own step")
        if step.next is not None and step.next != "end" and step.next not in numbers:
            bad(f"{where}.next", f"step {step.next} does not exist")
        if step.document and step.document not in doc_ids:
            bad(f"{where}.document", f"unknown document {step.document!r}; define it under 'documents'")
        for doc_id in step.produces:
            if doc_id not in doc_ids:
                bad(f"{where}.produces", f"unknown document {doc_id!r}; define it under 'documents'")
        if step.approves_plan_of is not None:
            if step.approves_plan_of not in numbers:
                bad(f"{where}.approves_plan_of", f"step {step.approves_plan_of} does not exist")
            elif sop.step(step.approves_plan_of).kind is not StepKind.AUTOMATED:
                bad(f"{where}.approves_plan_of", f"step {step.approves_plan_of} is not an automated step")
            elif step.approves_plan_of < step.number:
                bad(f"{where}.approves_plan_of", "the plan must be approved before its step runs")
        if step.automation is not None and step.automation.status == "automated":
            out.extend(_check_automation(sop, step.automation, f"{where}.automation", file, repo_root))

    if not out:
        out.extend(_check_gates(sop, file))
    for i, doc in enumerate(sop.documents):
        for signer in doc.signers:
            if signer not in actor_ids:
                bad(f"documents[{i}].signers", f"unknown actor {signer!r}")
    return out


def _check_automation(
    sop: SopDefinition,
    auto: Any,
    where: str,
    file: str,
    repo_root: Path,
) -> list[Problem]:
    out: list[Problem] = []
    if not (repo_root / auto.playbook).is_file():
        out.append(Problem(file, f"{where}.playbook", f"{auto.playbook} does not exist"))
    if auto.inventory and not (repo_root / auto.inventory).exists():
        out.append(Problem(file, f"{where}.inventory", f"{auto.inventory} does not exist"))
    if not auto.role:
        out.append(Problem(file, f"{where}.role", "name the role whose argument_specs the vars must match"))
        return out
    options = role_options(repo_root, auto.role)
    if options is None:
        out.append(Problem(file, f"{where}.role", f"roles/{auto.role}/meta/argument_specs.yml does not exist"))
        return out
    for var in auto.vars:
        if var not in options:
            out.append(
                Problem(
                    file,
                    f"{where}.vars.{var}",
                    f"role {auto.role} has no option {var!r}; its options: {', '.join(sorted(options))}",
                )
            )
    for opt, spec in options.items():
        if spec.get("required") and opt not in auto.vars:
            out.append(Problem(file, f"{where}.vars", f"role {auto.role} requires {opt!r}: map it from the request"))
    params = {p.name for p in sop.parameters}
    for var, value in auto.vars.items():
        if isinstance(value, str):
            for ref in _param_refs(value):
                if ref not in params:
                    out.append(Problem(file, f"{where}.vars.{var}", f"refers to unknown parameter params.{ref}"))
    return out


def _successors(sop: SopDefinition, step: Step) -> list[int]:
    gate = step.kind in (StepKind.DECISION, StepKind.APPROVAL)
    answers: tuple[str | None, ...] = ("ya", "tidak") if gate else (None,)
    return [n.step for a in answers if (n := machine.after(sop, step, a)).step is not None]


def _check_gates(sop: SopDefinition, file: str) -> list[Problem]:
    """Each automated step has an approval bound to its plan, and every way to it passes it.

    The runner refuses such an apply anyway; saying so here finds the catalogue mistake (a
    branch that jumps over the gate) before a run gets stuck on it.
    """
    out: list[Problem] = []
    for i, step in enumerate(sop.steps):
        if step.kind is not StepKind.AUTOMATED:
            continue
        where = f"steps[{i}](number {step.number})"
        gate = machine.approval_step_for(sop, step)
        if gate is None:
            out.append(Problem(file, where, "no approval step binds this step's plan: add approves_plan_of on one"))
            continue
        seen: set[int] = set()
        todo = [sop.steps[0].number]
        while todo:
            number = todo.pop()
            if number in seen or number == gate.number:
                continue
            seen.add(number)
            if number == step.number:
                out.append(Problem(file, where, f"reachable without passing the plan approval of step {gate.number}"))
                break
            todo.extend(_successors(sop, sop.step(number)))
    return out


def _param_refs(template: str) -> set[str]:
    import re

    return set(re.findall(r"params\.([a-z_][a-z0-9_]*)", template))


def validate_catalogue(catalogue_dir: Path, repo_root: Path) -> LoadResult:
    """Load and cross-check the whole catalogue."""
    result = load_catalogue(catalogue_dir)
    roles = load_roles(catalogue_dir)
    for sop_id, sop in result.sops.items():
        rel = str(result.files[sop_id].relative_to(catalogue_dir))
        result.problems.extend(check_definition(sop, rel, roles, repo_root))
    return result
