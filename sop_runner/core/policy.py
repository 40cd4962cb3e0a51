"""Who may act on a step: the approval policy, in one place.

Rules (each refusal names the rule):
1. the user holds the role of the step's actor;
2. steps of the requester's swimlane are done by the run's requester only;
3. the requester never decides or approves in their own run;
4. one person does not sign gates of two different swimlanes (roles) in one run unless the SOP
   allows it (``same_signer_allowed``): the same Kabid deciding at step 3 and checking the
   draft at step 7 is one official doing one duty; a person acting as both Kasi and Kabid is
   two duties and must not sign both.
"""

from __future__ import annotations

from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.people import User
from sop_runner.core.run.state import RunState
from sop_runner.errors import ForbiddenError

GATE_KINDS = (StepKind.DECISION, StepKind.APPROVAL)


def check_may_act(sop: SopDefinition, run: RunState, step: Step, user: User) -> str:
    """Return the role under which ``user`` acts on ``step``, or raise ForbiddenError."""
    actor = sop.actor(step.actor)
    role = actor.role
    if role == "requester":
        if user.username != run.requester:
            raise ForbiddenError(
                f"step {step.number} ({actor.name}) is done by the requester {run.requester}, not {user.username}",
                hint=f"ask {run.requester} to do it",
            )
        return role
    if not user.has(role):
        raise ForbiddenError(
            f"{user.username} does not hold role {role!r} needed for step {step.number} ({actor.name})",
            hint=f"a user with role {role!r} must act; {user.username} holds "
            f"{', '.join(sorted(user.roles)) or 'no roles'}",
        )
    if step.kind in GATE_KINDS:
        if user.username == run.requester:
            raise ForbiddenError(
                f"{user.username} requested run {run.run_id} and may not decide or approve in it",
                hint="another official holding the role must sign this gate",
            )
        if not sop.same_signer_allowed:
            for gate in run.gates:
                if gate.user == user.username and gate.role != role:
                    raise ForbiddenError(
                        f"{user.username} already signed step {gate.step} as {gate.role!r}; one person may not "
                        f"also sign as {role!r} in the same run",
                        hint=f"another official holding role {role!r} must sign step {step.number}",
                    )
    return role
