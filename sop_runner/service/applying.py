"""Plan, apply and resume an automated step: exactly the approved plan, verified before it acts."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sop_runner.adapters.execution.redact import scrub_run_dir
from sop_runner.adapters.signing.keyring import RUNNER
from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.policy import check_gate_valid, check_may_act, check_may_plan, check_may_resume
from sop_runner.core.run import machine
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState, RunStatus
from sop_runner.errors import AuditBrokenError, ConflictError, ForbiddenError
from sop_runner.service import planning, runctx

if TYPE_CHECKING:
    from collections.abc import Callable

    from sop_runner.adapters.signing.keyring import Signer
    from sop_runner.adapters.storage.store import EventStore
    from sop_runner.config import RunnerConfig
    from sop_runner.core.people import User
    from sop_runner.service.gates import Signature
    from sop_runner.service.ledger import Ledger


class ApplyMixin:
    """``sop plan``, ``sop apply`` and ``sop resume`` on RunService."""

    if TYPE_CHECKING:
        cfg: RunnerConfig
        store: EventStore
        ledger: Ledger
        progress: Callable[[str], None]

        def state(self, run_id: str) -> RunState: ...
        def sop_of(self, state: RunState) -> SopDefinition: ...
        def signer(self, user: User, sig: Signature | None = None) -> Signer: ...
        def _current(self, state: RunState, sop: SopDefinition, step_no: int | None) -> Step: ...
        def _append(self, state: RunState, events: list[Event], person: Signer | None = None) -> RunState: ...
        def _issue(self, state: RunState, sop: SopDefinition, doc_id: str, by: str) -> RunState: ...
        def _advance(self, state: RunState, sop: SopDefinition, step: Step, answer: str) -> RunState: ...

    def _run_ctx(self, state: RunState, step: Step) -> dict[str, str]:
        """What SOP bindings may use as ``run``: id, requester, sop, and the step's output folder."""
        outputs = self.cfg.home / "runs" / state.run_id / "outputs" / f"step{step.number}"
        return {"id": state.run_id, "requester": state.requester, "sop": state.sop_id, "artifacts": str(outputs)}

    def _extravars(self, state: RunState, step: Step) -> dict[str, Any]:
        assert step.automation is not None
        run_ctx = self._run_ctx(state, step)
        values = planning.bound_vars(step.automation, state.params, run_ctx)
        values["sop_run_id"] = state.run_id
        values["sop_step"] = step.number
        values["sop_artifacts_dir"] = run_ctx["artifacts"]
        return values

    def _run_dir(self, run_id: str) -> Path:
        return self.cfg.home / "runs" / run_id

    def _execute(
        self, state: RunState, sop: SopDefinition, step: Step, *, check: bool, extra: dict[str, Any] | None = None
    ) -> planning.PlanOutcome:
        extravars = self._extravars(state, step)
        Path(extravars["sop_artifacts_dir"]).mkdir(parents=True, exist_ok=True)
        if extra:
            extravars.update(extra)
        n = (
            len(list((self._run_dir(state.run_id) / "ansible").glob("*")))
            if (self._run_dir(state.run_id) / "ansible").is_dir()
            else 0
        )
        ident = f"step{step.number}-{'plan' if check else 'apply'}-{n + 1}"
        self.progress(
            f"{'planning' if check else 'applying'} step {step.number}: "
            f"{step.automation.playbook if step.automation else ''}"
        )
        return planning.execute(
            sop=sop,
            step=step,
            repo=self.cfg.repo,
            workdir=self._run_dir(state.run_id) / "ansible" / ident,
            ident=ident,
            extravars=extravars,
            check=check,
            inventory=str(self.cfg.repo / step.automation.inventory)
            if step.automation and step.automation.inventory
            else self.cfg.inventory,
            secrets=self.cfg.secrets(),
            on_event=self._progress_event,
        )

    def _progress_event(self, ev: dict[str, Any]) -> None:
        line = runctx.progress_line(ev)
        if line:
            self.progress(line)

    def plan(self, run_id: str, username: str, *, sig: Signature | None = None) -> RunState:
        """Plan the automated step that matters now (the current one, or the one being approved)."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, None)
        target = machine.plan_step_for(sop, cur)
        if target is None:
            raise ConflictError(
                f"step {cur.number} ({cur.kind}) has no plan to make",
                hint="plans are made for automated steps and the approvals bound to them",
            )
        user = self.cfg.user(username)
        check_may_plan(user)
        signer = self.signer(user, sig)
        outcome = self._execute(state, sop, target, check=True)
        if not outcome.result.ok:
            message = "; ".join(outcome.result.errors)
            self._append(state, [Event(Ev.ERROR, RUNNER, {"step": target.number, "message": message, "by": username})])
            raise ConflictError(
                f"plan of step {target.number} failed: {'; '.join(outcome.result.errors)}",
                hint="fix the cause (see the message) and plan again; nothing was changed",
            )
        return self._append(state, [self._plan_event(username, target, outcome)], signer)

    def _plan_event(self, username: str, step: Step, outcome: planning.PlanOutcome) -> Event:
        return Event(
            Ev.PLAN_CREATED,
            username,
            {
                "step": step.number,
                "plan_hash": outcome.hash,
                "changed": outcome.result.changed,
                "summary": outcome.summary,
                "diff": outcome.inputs.diff,
                "stats": outcome.inputs.stats,
                "inputs": {
                    "code": outcome.inputs.code_digest,
                    "inventory": outcome.inputs.inventory_digest,
                    "config": outcome.inputs.config_digest,
                    "vars": outcome.inputs.extravars,
                },
                "artifacts": outcome.result.artifacts,
            },
        )

    def apply(
        self, run_id: str, username: str, *, urgent_reason: str = "", sig: Signature | None = None
    ) -> RunState:
        """Apply exactly the approved plan of the current automated step."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, None)
        user = self.cfg.user(username)
        if urgent_reason and cur.approves_plan_of is not None:
            return self._urgent_apply(state, sop, cur, user, sig, urgent_reason)
        if cur.kind is not StepKind.AUTOMATED or cur.automation is None:
            raise ConflictError(f"step {cur.number} is a {cur.kind}, not an automated step")
        check_may_act(sop, state, cur, user)
        signer = self.signer(user, sig)
        approved_hash = self._approved_hash(state, sop, cur)
        gate_step = machine.approval_step_for(sop, cur)
        urgent = False
        if not approved_hash:
            if urgent_reason:
                if not sop.urgent_path:
                    raise ForbiddenError(f"{sop.id} has no urgent path", hint="get the approval first")
                urgent = True
            elif gate_step is not None:
                raise ForbiddenError(f"step {cur.number} needs the approval of step {gate_step.number} first")
        return self._apply_current(state, sop, cur, signer, approved_hash, urgent=urgent, urgent_reason=urgent_reason)

    def _approved_hash(self, state: RunState, sop: SopDefinition, cur: Step) -> str:
        """The plan hash the step's approval signed, re-verified now ('' when not approved).

        The approval row is checked again on its own (signature by its signer's key, its
        content, its chain hash) and against the policy (role, not the requester), so a
        forged or administratively accepted row never authorises a change.
        """
        gate_step = machine.approval_step_for(sop, cur)
        if gate_step is None:
            return ""
        gate = state.gate_for(gate_step.number)
        if gate is None or gate.action != "approve":
            return ""
        rows = self.store.run_rows(state.run_id)
        bad = self.ledger.row_problem(rows, gate.seq)
        if bad:
            raise AuditBrokenError(
                f"the approval of step {gate_step.number} (row seq={gate.seq}) does not verify: {bad}; "
                "nothing was applied",
                hint="the approval must be signed again by the official (`sop audit verify` names the row)",
            )
        check_gate_valid(sop, state, gate_step, self.cfg.user(gate.user))
        return gate.plan_hash

    def _urgent_apply(
        self, state: RunState, sop: SopDefinition, gate: Step, user: User, sig: Signature | None, reason: str
    ) -> RunState:
        """Emergency SOPs: apply the bound step now; the gate stays open for the late approval."""
        if not sop.urgent_path:
            raise ForbiddenError(f"{sop.id} has no urgent path", hint="get the approval first")
        assert gate.approves_plan_of is not None
        target = sop.step(gate.approves_plan_of)
        check_may_act(sop, state, target, user)
        signer = self.signer(user, sig)
        return self._apply_current(state, sop, target, signer, "", urgent=True, urgent_reason=reason, advance=False)

    def _apply_current(
        self,
        state: RunState,
        sop: SopDefinition,
        cur: Step,
        signer: Signer,
        approved_hash: str,
        *,
        urgent: bool = False,
        urgent_reason: str = "",
        resumed: bool = False,
        advance: bool = True,
    ) -> RunState:
        assert cur.automation is not None
        username = signer.principal
        run_ctx = self._run_ctx(state, cur)
        locks = planning.targets(cur.automation, state.params, run_ctx) or [f"run:{state.run_id}"]
        self.store.acquire_locks(state.run_id, locks)
        try:
            replan = self._execute(state, sop, cur, check=True)
            if not replan.result.ok:
                raise ConflictError(
                    f"re-plan before apply failed: {'; '.join(replan.result.errors)}",
                    hint="fix the cause and apply again; nothing was changed",
                )
            state = self._append(state, [self._plan_event(username, cur, replan)], signer)
            nothing_to_do = replan.result.changed == 0
            if approved_hash and replan.hash != approved_hash and not (resumed and nothing_to_do):
                gate_step = machine.approval_step_for(sop, cur)
                assert gate_step is not None
                self._append(
                    state,
                    [
                        Event(
                            Ev.PLAN_STALE,
                            RUNNER,
                            {"step": cur.number, "approved_hash": approved_hash, "new_hash": replan.hash},
                        ),
                        Event(Ev.STEP_STARTED, RUNNER, {"step": gate_step.number}),
                    ],
                )
                raise ConflictError(
                    f"the plan changed since it was approved (approved {approved_hash[:12]}, now {replan.hash[:12]}); "
                    f"nothing was applied and run {state.run_id} is back at step {gate_step.number} "
                    "for approval of the new plan",
                    hint=f"`sop show {state.run_id} --plan` shows the new plan",
                )
            if not approved_hash and not urgent and not nothing_to_do:
                raise ForbiddenError(
                    f"step {cur.number} would change things but no approval step binds its plan",
                    hint="the SOP must name an approval (approves_plan_of) for this step",
                )
            pre: list[Event] = []
            if urgent:
                deadline = sop.urgent_approval_deadline or "1 x 24 jam"
                pre.append(
                    Event(
                        Ev.URGENT_APPLY,
                        username,
                        {"step": cur.number, "reason": urgent_reason, "plan_hash": replan.hash, "deadline": deadline},
                    )
                )
            pre.append(
                Event(
                    Ev.APPLY_STARTED,
                    username,
                    {"step": cur.number, "plan_hash": replan.hash, "pid": os.getpid(), "host": socket.gethostname()},
                )
            )
            state = self._append(state, pre, signer)
            sop_plan = replan.inputs.stats.get("sop_plan", {})
            applied = self._execute(
                state, sop, cur, check=False,
                extra={"sop_approved_plan": sop_plan, "sop_answers": runctx.answers(state)},
            )
            hold = float(os.environ.get("SOP_FAULT_HOLD_AFTER_APPLY", "0") or 0)
            if hold:  # fault injection for tests: a crash window after the change, before it is recorded
                time.sleep(hold)
            events = [
                Event(Ev.HOST_RESULT, RUNNER, {"step": cur.number, "host": h, **counts})
                for h, counts in applied.result.hosts.items()
            ]
            if applied.result.ok:
                events.append(
                    Event(
                        Ev.APPLY_FINISHED,
                        username,
                        {
                            "step": cur.number,
                            "status": "successful",
                            "plan_hash": replan.hash,
                            "diff": applied.inputs.diff,
                            "stats": applied.inputs.stats,
                            "changed": applied.result.changed,
                            "artifacts": applied.result.artifacts,
                            "note": "already in place; verified" if nothing_to_do else "",
                        },
                    )
                )
                state = self._append(state, events, signer)
            else:
                rolled_back = bool(applied.inputs.stats.get("sop_rollback"))
                events.append(
                    Event(
                        Ev.APPLY_FINISHED,
                        username,
                        {
                            "step": cur.number,
                            "status": "failed",
                            "plan_hash": replan.hash,
                            "error": "; ".join(applied.result.errors),
                            "stats": applied.inputs.stats,
                            "diff": applied.inputs.diff,
                            "artifacts": applied.result.artifacts,
                        },
                    )
                )
                events.append(
                    Event(
                        Ev.FAILED,
                        RUNNER,
                        {"step": cur.number, "error": "; ".join(applied.result.errors), "rolled_back": rolled_back},
                    )
                )
                self._append(state, events, signer)
                raise ConflictError(
                    f"apply of step {cur.number} failed{' and was rolled back' if rolled_back else ''}: "
                    + "; ".join(applied.result.errors),
                    hint=f"fix the cause, then `sop resume {state.run_id}` (re-plans and asks for approval again)",
                )
        finally:
            self.store.release_locks(state.run_id)
        if not advance:
            return state  # urgent path: the run waits at the gate for the late approval
        for doc_id in cur.produces:
            state = self._issue(state, sop, doc_id, username)
        return self._advance(state, sop, cur, "ya")

    def resume(self, run_id: str, username: str, *, sig: Signature | None = None) -> RunState:
        """Continue an interrupted or failed run without applying anything twice."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        if state.status not in (RunStatus.INTERRUPTED, RunStatus.FAILED):
            raise ConflictError(f"run {run_id} is {state.status}; only interrupted or failed runs resume")
        step_no = state.current
        assert step_no is not None
        cur = sop.step(step_no)
        user = self.cfg.user(username)
        check_may_resume(sop, state, cur, user)
        signer = self.signer(user, sig)
        # A run killed mid-playbook never reached the scrub after it: clean its artifacts first.
        if self._run_dir(run_id).is_dir():
            scrub_run_dir(self._run_dir(run_id), self.cfg.secrets())
        was_interrupted = state.status is RunStatus.INTERRUPTED
        approved = self._approved_hash(state, sop, cur) if was_interrupted and cur.kind is StepKind.AUTOMATED else ""
        state = self._append(
            state,
            [Event(Ev.RESUMED, username, {"step": cur.number, "from": "interrupted" if was_interrupted else "failed"})],
            signer,
        )
        gate_step = machine.approval_step_for(sop, cur)
        if was_interrupted and cur.kind is StepKind.AUTOMATED:
            urgent = cur.number in state.urgent
            return self._apply_current(
                state,
                sop,
                cur,
                signer,
                approved,
                urgent=urgent and not approved,
                urgent_reason="resumed urgent apply" if urgent else "",
                resumed=True,
            )
        # A failed apply may have changed things partly: the new plan must be approved again.
        target = gate_step.number if gate_step is not None else cur.number
        return self._append(state, [Event(Ev.STEP_STARTED, RUNNER, {"step": target})])


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with Path(f"/proc/{pid}/stat").open(encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
