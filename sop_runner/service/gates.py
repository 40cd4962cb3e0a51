"""Decisions and approvals: signed by the official, bound to the run, the step and the plan they saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.policy import check_may_act
from sop_runner.core.run import machine
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState
from sop_runner.core.text import checked_text
from sop_runner.errors import ConflictError, InvalidInputError

if TYPE_CHECKING:
    from sop_runner.adapters.signing.keyring import Signer
    from sop_runner.core.people import User
    from sop_runner.service.ledger import Ledger

_ANSWERS = {"y": "ya", "yes": "ya", "ya": "ya", "t": "tidak", "no": "tidak", "tidak": "tidak"}
MIN_HASH_PREFIX = 12


@dataclass(slots=True)
class Signature:
    """A signature supplied by the caller, or a key to make one with."""

    key_file: str = ""
    armored: str = ""


class GateMixin:
    """``sop decide``, ``sop approve`` and ``sop reject`` on RunService."""

    if TYPE_CHECKING:
        ledger: Ledger

        def state(self, run_id: str) -> RunState: ...
        def sop_of(self, state: RunState) -> SopDefinition: ...
        def signer(self, user: User, sig: Signature | None = None) -> Signer: ...
        def _current(self, state: RunState, sop: SopDefinition, step_no: int | None) -> Step: ...
        def _finish_step(
            self, state: RunState, sop: SopDefinition, step: Step, by: Signer, outcome: str, note: str,
            evidence: list[dict[str, str]] | None = None, extra: list[Event] | None = None,
        ) -> RunState: ...

    def decide(
        self, run_id: str, username: str, answer: str, reason: str, *, step: int | None = None,
        sig: Signature | None = None,
    ) -> RunState:
        """Answer a decision step Ya/Tidak, signed."""
        answer = _ANSWERS.get(answer.lower(), "")
        if not answer:
            raise InvalidInputError("answer must be ya or tidak")
        checked_text("reason", reason, required=True)
        return self._gate(run_id, username, StepKind.DECISION, answer, answer, reason, step, sig, None)

    def approve(
        self, run_id: str, username: str, approve: bool, comment: str, *, step: int | None = None,
        sig: Signature | None = None, plan_hash: str | None = None,
    ) -> RunState:
        """Approve or reject an approval step, signed; a plan-bound approval names the plan reviewed.

        ``plan_hash`` is the hash of the plan the approver read (``sop show --plan``, the web
        inbox's plan page). Approving is refused when it is missing or when the run's plan is
        no longer that one: an approval signs what its approver saw, never a newer plan.
        """
        checked_text("comment", comment, required=not approve)
        action = "approve" if approve else "reject"
        return self._gate(
            run_id, username, StepKind.APPROVAL, action, "ya" if approve else "tidak", comment, step, sig, plan_hash
        )

    def reviewable_plan(self, run_id: str) -> str:
        """The plan hash an approver reviews now at the current gate ('-' when it binds no plan)."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, None)
        return self._gated_plan_hash(state, cur)

    def gate_statement(
        self, run_id: str, username: str, action: str, comment: str, *, plan_hash: str | None = None
    ) -> bytes:
        """The exact bytes to sign offline for a decision or approval (``--print-statement``)."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, None)
        user = self.ledger.cfg.user(username)
        _, ev = self._gate_event(state, sop, cur, user, action, comment, plan_hash)
        return self.ledger.statement_for(state, ev.kind, ev.actor, ev.data)

    def _gate_event(
        self, state: RunState, sop: SopDefinition, cur: Step, user: User, action: str, comment: str,
        reviewed: str | None,
    ) -> tuple[str, Event]:
        answer = _ANSWERS.get(action, "ya" if action == "approve" else "tidak")
        kind = StepKind.DECISION if action in ("ya", "tidak") else StepKind.APPROVAL
        if cur.kind is not kind:
            raise ConflictError(f"step {cur.number} is a {cur.kind}, not a {kind}")
        role = check_may_act(sop, state, cur, user)
        plan_hash = self._gated_plan_hash(state, cur) if kind is StepKind.APPROVAL else "-"
        if action == "approve" and plan_hash != "-":
            _check_reviewed(state.run_id, plan_hash, reviewed)
        nxt = machine.after(sop, cur, answer)
        ev_kind = Ev.DECIDED if kind is StepKind.DECISION else (Ev.APPROVED if answer == "ya" else Ev.REJECTED)
        data: dict[str, Any] = {
            "step": cur.number,
            "action": action,
            "role": role,
            "comment": comment,
            "plan_hash": plan_hash,
            "rejects_request": answer == "tidak" and nxt.rejects_request,
        }
        return answer, Event(ev_kind, user.username, data)

    def _gate(
        self, run_id: str, username: str, kind: StepKind, action: str, answer: str, comment: str,
        step: int | None, sig: Signature | None, reviewed: str | None,
    ) -> RunState:
        """Sign and record a decision or approval on the current step, then move on."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, step)
        if cur.kind is not kind:
            raise ConflictError(f"step {cur.number} is a {cur.kind}, not a {kind}")
        user = self.ledger.cfg.user(username)
        answer, ev = self._gate_event(state, sop, cur, user, action, comment, reviewed)
        signer = self.signer(user, sig)
        return self._finish_step(state, sop, cur, signer, answer, comment, extra=[ev])

    def _gated_plan_hash(self, state: RunState, cur: Step) -> str:
        """The plan hash an approval signs ('-' when it approves no plan)."""
        if cur.approves_plan_of is None:
            return "-"
        plan = state.plans.get(cur.approves_plan_of)
        if plan is None:
            raise ConflictError(
                f"step {cur.number} approves the plan of step {cur.approves_plan_of}, which has no plan yet",
                hint=f"run `sop plan {state.run_id}` first, read it, then approve",
            )
        if cur.approves_plan_of in state.urgent and cur.approves_plan_of in state.applied:
            # A late approval on the urgent path signs what was actually applied.
            return state.applied[cur.approves_plan_of]
        return plan.hash


def _check_reviewed(run_id: str, current: str, reviewed: str | None) -> None:
    """Refuse an approval that does not name the plan now at the gate."""
    if not reviewed:
        raise InvalidInputError(
            f"plan_hash: approving run {run_id} needs the hash of the plan you reviewed",
            hint=f"read it with `sop show {run_id} --plan`, then pass --plan {current[:16]}",
        )
    wanted = reviewed.strip().lower()
    if len(wanted) < MIN_HASH_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
        raise InvalidInputError(
            f"plan_hash: {wanted[:20]!r} is not a plan hash (at least {MIN_HASH_PREFIX} hex characters)",
            hint=f"copy it from `sop show {run_id} --plan`",
        )
    if not current.startswith(wanted):
        raise ConflictError(
            f"the plan you reviewed ({wanted[:16]}) is not the plan now at the gate ({current[:16]}); "
            "nothing was signed",
            hint=f"read the new plan with `sop show {run_id} --plan` and approve it by its hash if it is right",
        )
