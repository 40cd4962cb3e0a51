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


# -- one rule per verb: who may request, plan, apply, resume, cancel, resolve -----------------
STAFF_ROLES = frozenset({"operator_dc", "staf_teknis", "staf", "kasi", "kabid", "kadis"})
"""Kominfo staff: they make plans (check mode only; a plan changes nothing)."""
CANCEL_ROLES = frozenset({"kasi", "kabid", "kadis"})
"""Officials who may cancel any run (besides its requester)."""
ADMIN_ROLE = "admin"
"""Decides on a run whose record does not verify (the only way out of a frozen run)."""


def check_may_request(sop: SopDefinition, user: User, skpd: str | None) -> None:
    """SKPD requesters request; an internal SOP is started by the role of its first row."""
    first_role = sop.starter_role
    if not user.has("requester") and (first_role == "requester" or not user.has(first_role)):
        raise ForbiddenError(
            f"{user.username} does not hold role 'requester'"
            + ("" if first_role == "requester" else f" nor {first_role!r}, which starts {sop.id}"),
            hint="only SKPD requesters (role 'requester') may submit requests"
            + ("" if first_role == "requester" else f"; internal SOPs are started by role {first_role!r}"),
        )
    if skpd is not None and user.tenant and skpd != user.tenant:
        raise ForbiddenError(
            f"{user.username} belongs to SKPD {user.tenant!r} and cannot request for {skpd!r}",
            hint=f"use --param skpd={user.tenant}",
        )


def check_may_plan(user: User) -> None:
    """Plans are made by Kominfo staff (never by a requester acting alone)."""
    if not user.roles & STAFF_ROLES:
        raise ForbiddenError(f"{user.username} may not make plans", hint="plans are made by Kominfo staff")


def check_may_resume(sop: SopDefinition, run: RunState, step: Step, user: User) -> str:
    """Resuming continues the step's own work: only someone who may act on that step."""
    return check_may_act(sop, run, step, user)


def check_may_cancel(run: RunState, user: User) -> None:
    """The requester may withdraw; a Kasi, Kabid or Kadis may stop any run."""
    if user.username != run.requester and not user.roles & CANCEL_ROLES:
        raise ForbiddenError(
            f"{user.username} may not cancel run {run.run_id}", hint="the requester or a Kasi/Kabid/Kadis may cancel"
        )


def check_may_resolve(user: User) -> None:
    """Only an administrator decides on a frozen run."""
    if not user.has(ADMIN_ROLE):
        raise ForbiddenError(
            f"{user.username} is not an administrator (role {ADMIN_ROLE!r})",
            hint="a frozen run is released or cancelled only by an administrator's signed decision",
        )


def check_gate_valid(sop: SopDefinition, run: RunState, step: Step, signer: User) -> None:
    """Re-check, before an apply, that the approval it relies on was signed by someone allowed.

    The apply does not trust that the approval was checked when it was recorded: the record
    may have been written by someone else (a database writer), so the rule is applied again.
    """
    if signer.username == run.requester:
        raise ForbiddenError(f"the approval of step {step.number} was signed by the requester {signer.username}")
    role = sop.actor(step.actor).role
    if not signer.has(role):
        raise ForbiddenError(
            f"the approval of step {step.number} was signed by {signer.username}, who does not hold role {role!r}"
        )
