"""Navigation through an SOP: which step comes next, and how a run ends.

A 'tidak' that points backwards (to an earlier step) is a revision loop — the draft goes back
to be redone — while a 'tidak' that points forwards or to 'end' refuses the request, so the
run closes as ``rejected`` once it reaches the end (after the reply letter is sent).
"""

from __future__ import annotations

from dataclasses import dataclass

from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind


@dataclass(frozen=True, slots=True)
class Next:
    """Where the run goes after a step: a step number, or the end."""

    step: int | None
    rejects_request: bool = False


def after(sop: SopDefinition, step: Step, answer: str | None = None) -> Next:
    """The step that follows ``step`` given the answer ('ya'/'tidak') of a gate."""
    if step.kind in (StepKind.DECISION, StepKind.APPROVAL) and step.branches is not None:
        if answer == "tidak":
            target = step.branches.tidak
            explicit = step.branches.tidak_rejects
            if target == "end":
                return Next(None, rejects_request=True if explicit is None else explicit)
            return Next(int(target), rejects_request=int(target) > step.number if explicit is None else explicit)
        if step.branches.ya is not None:
            return Next(None) if step.branches.ya == "end" else Next(int(step.branches.ya))
    elif answer == "tidak":
        # An approval without explicit branches: a rejection ends the request.
        return Next(None, rejects_request=True)
    if step.next is not None:
        return Next(None) if step.next == "end" else Next(int(step.next))
    nxt = sop.next_step(step.number)
    return Next(nxt.number if nxt else None)


def plan_step_for(sop: SopDefinition, current: Step) -> Step | None:
    """The automated step whose plan matters while ``current`` is active."""
    if current.kind is StepKind.AUTOMATED:
        return current
    if current.approves_plan_of is not None:
        return sop.step(current.approves_plan_of)
    return None


def approval_step_for(sop: SopDefinition, automated: Step) -> Step | None:
    """The approval step bound to the plan of ``automated``, if the SOP names one."""
    for step in sop.steps:
        if step.approves_plan_of == automated.number:
            return step
    return None
