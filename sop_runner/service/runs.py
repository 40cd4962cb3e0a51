"""Use cases of a run: request, act on steps, plan, apply, resume, cancel.

Each method loads the run's events, checks the rules in the core, and appends new events in
one optimistic transaction; nothing is changed when a rule refuses.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sop_runner.adapters.signing import sshsig
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import RunnerConfig
from sop_runner.core.canonical import digest, sha256_hex
from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.params import validate_params
from sop_runner.core.people import User
from sop_runner.core.policy import check_may_act
from sop_runner.core.run import machine
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState, RunStatus, apply_event, fold
from sop_runner.core.signing import SignedAction
from sop_runner.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from sop_runner.service import documents, planning

Progress = Callable[[str], None]


@dataclass(slots=True)
class Signature:
    """A signature supplied by the caller, or a key to make one with."""

    key_file: str = ""
    armored: str = ""


class RunService:
    """The runner's use cases over one configuration."""

    def __init__(self, config: RunnerConfig, progress: Progress | None = None) -> None:
        self.cfg = config
        self.store = EventStore(config.database)
        self.progress = progress or (lambda _msg: None)
        self._catalogue: dict[str, SopDefinition] | None = None

    # -- lookups ----------------------------------------------------------------------------
    @property
    def catalogue(self) -> dict[str, SopDefinition]:
        """The loaded catalogue (definitions that do not load are not runnable)."""
        if self._catalogue is None:
            self._catalogue = load_catalogue(self.cfg.catalogue).sops
        return self._catalogue

    def sop(self, sop_id: str) -> SopDefinition:
        """One definition, or NotFoundError listing close ids."""
        if sop_id not in self.catalogue:
            close = [s for s in self.catalogue if sop_id.rsplit("-", maxsplit=1)[-1] in s][:5]
            raise NotFoundError(
                f"no SOP {sop_id!r} in {self.cfg.catalogue}",
                hint=f"`sop catalogue list` shows them{'; did you mean ' + ', '.join(close) if close else ''}",
            )
        return self.catalogue[sop_id]

    def state(self, run_id: str) -> RunState:
        """The run's current state (a dead apply is noticed and recorded as interrupted)."""
        state = fold(self.store.events(run_id))
        if (
            state.status is RunStatus.APPLYING
            and state.apply_host == socket.gethostname()
            and state.apply_pid
            and not _alive(state.apply_pid)
        ):
            self._append(
                state,
                [
                    Event(
                        Ev.APPLY_INTERRUPTED,
                        "sop-runner",
                        {
                            "step": state.apply_step,
                            "reason": f"runner process {state.apply_pid} is gone",
                        },
                    )
                ],
            )
            state = fold(self.store.events(run_id))
        return state

    def sop_of(self, state: RunState) -> SopDefinition:
        """The definition a run follows; refuses if it changed since the request."""
        sop = self.sop(state.sop_id)
        if digest(sop.model_dump(mode="json")) != state.sop_digest:
            raise ConflictError(
                f"SOP {sop.id} changed since run {state.run_id} was requested",
                hint="cancel this run and request it again under the current definition",
            )
        return sop

    # -- writing ----------------------------------------------------------------------------
    def _append(self, state: RunState, events: list[Event]) -> RunState:
        stamped = self.store.append(state.run_id, state.version, events)
        # Fold only what was just stored (the store checked the run was still at state.version),
        # instead of reading the whole run back; a new run folds from its first event.
        if state.version == 0:
            new_state = fold(stamped)
        else:
            new_state = state
            for event in stamped:
                apply_event(new_state, event)
        self.store.write_snapshot(new_state)
        return new_state

    # -- request ----------------------------------------------------------------------------
    def request(self, sop_id: str, requester: str, params: dict[str, Any]) -> RunState:
        """Create a run; validates everything before anything is stored."""
        sop = self.sop(sop_id)
        user = self.cfg.user(requester)
        # An internal SOP (its first row is done by Kominfo staff, e.g. SOP 24's Operator DC
        # reminder) is started by someone holding that row's role; the rest need a requester.
        first_role = sop.starter_role
        if not user.has("requester") and (first_role == "requester" or not user.has(first_role)):
            raise ForbiddenError(
                f"{requester} does not hold role 'requester'"
                + ("" if first_role == "requester" else f" nor {first_role!r}, which starts {sop.id}"),
                hint="only SKPD requesters (role 'requester') may submit requests"
                + ("" if first_role == "requester" else f"; internal SOPs are started by role {first_role!r}"),
            )
        typed = validate_params(sop, params)
        if "skpd" in typed and user.tenant and typed["skpd"] != user.tenant:
            raise ForbiddenError(
                f"{requester} belongs to SKPD {user.tenant!r} and cannot request for {typed['skpd']!r}",
                hint=f"use --param skpd={user.tenant}",
            )
        self._check_bindings(sop, typed)
        run_id = datetime.now(UTC).strftime("%Y%m%d") + "-" + uuid.uuid4().hex[:8]
        first = sop.steps[0]
        events = [
            Event(
                Ev.REQUESTED,
                requester,
                {
                    "run_id": run_id,
                    "sop_id": sop.id,
                    "sop_digest": digest(sop.model_dump(mode="json")),
                    "params": typed,
                },
            ),
            Event(Ev.STEP_STARTED, "sop-runner", {"step": first.number}),
        ]
        seed = RunState(
            run_id=run_id, sop_id=sop.id, sop_digest="", requester=requester, params=typed, created=datetime.now(UTC)
        )
        seed.version = 0
        state = self._append(seed, events)
        # The requester's own leading row ("SKPD mengajukan permohonan") is done by submitting.
        if sop.actor(first.actor).role == "requester" and first.kind is StepKind.MANUAL:
            state = self._finish_step(state, sop, first, requester, "done", "permohonan diajukan")
        return state

    def _check_bindings(self, sop: SopDefinition, params: dict[str, Any]) -> None:
        """Validate every automated step's variables against its role's argument_specs now,
        so a request that cannot run fails before anyone is asked to decide or approve."""
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

        from sop_runner.core.catalogue.validate import role_options

        fake_run = {"id": "validation", "requester": "validation", "sop": sop.id, "artifacts": "/validation"}
        for step in sop.steps:
            if step.automation is None or step.automation.status != "automated" or not step.automation.role:
                continue
            values = planning.bound_vars(step.automation, params, fake_run)
            options = role_options(self.cfg.repo, step.automation.role) or {}
            # Only the options the SOP binds: the rest keep their role defaults (often Jinja).
            spec = {
                k: {kk: vv for kk, vv in v.items() if kk in ("type", "choices", "elements")}
                for k, v in options.items()
                if k in values
            }
            result = ArgumentSpecValidator(spec).validate(values)
            if result.error_messages:
                problems = "; ".join(result.error_messages)
                raise InvalidInputError(
                    f"request does not fit role {step.automation.role} (step {step.number}): {problems}",
                    hint="correct the request parameters; nothing was created",
                )

    # -- acting on steps --------------------------------------------------------------------
    def _current(self, state: RunState, sop: SopDefinition, step_no: int | None) -> Step:
        if state.status is not RunStatus.OPEN or state.current is None:
            raise ConflictError(
                f"run {state.run_id} is {state.status}, nothing to act on",
                hint="`sop resume` an interrupted or failed run"
                if state.status in (RunStatus.INTERRUPTED, RunStatus.FAILED)
                else "",
            )
        if step_no is not None and step_no != state.current:
            raise ConflictError(
                f"run {state.run_id} is at step {state.current}, not step {step_no}",
                hint="look at `sop show` and act on the current step",
            )
        return sop.step(state.current)

    def complete(
        self, run_id: str, username: str, *, step: int | None = None, note: str = "", evidence: list[Path] | None = None
    ) -> RunState:
        """Confirm a manual, notify or document step."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, step)
        user = self.cfg.user(username)
        if cur.kind in (StepKind.DECISION, StepKind.APPROVAL):
            raise ConflictError(f"step {cur.number} is a {cur.kind}: use `sop decide` or `sop approve/reject`")
        if cur.kind is StepKind.AUTOMATED:
            raise ConflictError(f"step {cur.number} is automated: use `sop plan` and `sop apply`")
        check_may_act(sop, state, cur, user)
        files = []
        for path in evidence or []:
            if not path.is_file():
                raise InvalidInputError(f"evidence file {path} does not exist", hint="give a path to an existing file")
            files.append(self._store_evidence(state.run_id, cur.number, path))
        data_note = note
        if cur.kind is StepKind.DOCUMENT:
            state = self._issue(state, sop, cur.document, username)
        return self._finish_step(state, sop, cur, username, "done", data_note, evidence=files)

    def _store_evidence(self, run_id: str, step: int, path: Path) -> dict[str, str]:
        dest = self.cfg.home / "runs" / run_id / "evidence" / f"step{step}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        dest.write_bytes(data)
        return {"name": path.name, "sha256": sha256_hex(data), "stored": str(dest)}

    def _finish_step(
        self,
        state: RunState,
        sop: SopDefinition,
        step: Step,
        by: str,
        outcome: str,
        note: str,
        evidence: list[dict[str, str]] | None = None,
        extra: list[Event] | None = None,
    ) -> RunState:
        events = list(extra or [])
        if not any(e.kind in (Ev.DECIDED, Ev.APPROVED, Ev.REJECTED) for e in events):
            events.append(
                Event(
                    Ev.STEP_COMPLETED,
                    by,
                    {"step": step.number, "outcome": outcome, "note": note, "evidence": evidence or []},
                )
            )
        state = self._append(state, events)
        for doc_id in step.produces:
            state = self._issue(state, sop, doc_id, by)
        return self._advance(state, sop, step, "tidak" if outcome in ("tidak", "reject") else "ya")

    def _advance(self, state: RunState, sop: SopDefinition, step: Step, answer: str) -> RunState:
        nxt = machine.after(sop, step, answer)
        if nxt.step is None:
            outcome = "rejected" if state.rejected or nxt.rejects_request else "completed"
            return self._append(state, [Event(Ev.CLOSED, "sop-runner", {"outcome": outcome})])
        nxt_step = sop.step(nxt.step)
        if nxt_step.kind is StepKind.AUTOMATED and nxt.step in state.urgent and nxt.step in state.applied:
            # Applied earlier on the urgent path and now approved: record it, do not apply twice.
            state = self._append(
                state,
                [
                    Event(Ev.STEP_STARTED, "sop-runner", {"step": nxt.step}),
                    Event(
                        Ev.STEP_COMPLETED,
                        "sop-runner",
                        {
                            "step": nxt.step,
                            "outcome": "applied",
                            "note": "applied earlier on the urgent path",
                            "evidence": [],
                        },
                    ),
                ],
            )
            for doc_id in nxt_step.produces:
                state = self._issue(state, sop, doc_id, "sop-runner")
            return self._advance(state, sop, nxt_step, "ya")
        return self._append(state, [Event(Ev.STEP_STARTED, "sop-runner", {"step": nxt.step})])

    def _sign_or_check(
        self,
        state: RunState,
        sop: SopDefinition,
        step: Step,
        user: User,
        action: str,
        plan_hash: str,
        comment: str,
        sig: Signature,
    ) -> tuple[str, str]:
        signed = SignedAction(
            run_id=state.run_id,
            sop_id=sop.id,
            step=step.number,
            action=action,
            plan_hash=plan_hash,
            user=user.username,
            comment=comment,
        )
        payload = signed.payload()
        armored = sig.armored
        if not armored:
            key = sig.key_file or user.private_key_file
            if not key:
                raise ForbiddenError(
                    f"{user.username} must sign this {step.kind}",
                    hint="pass --key PATH (your SSH private key) or --signature FILE",
                )
            armored = sshsig.sign(payload, Path(key))
        if not user.public_key:
            raise ForbiddenError(
                f"{user.username} has no public key in {self.cfg.source}",
                hint="add public_key to the user so signatures can be verified",
            )
        signers = self._signers_file()
        bad = sshsig.verify(payload, armored, user.username, signers)
        if bad:
            raise ForbiddenError(
                f"signature does not verify for {user.username} on run {state.run_id} step {step.number} "
                f"({action}, plan {plan_hash[:12]}): {bad}",
                hint="sign exactly this run, step, action and plan; a signature from another run or plan is refused",
            )
        return armored, payload.decode("utf-8")

    def _signers_file(self) -> Path:
        path = self.cfg.home / "allowed_signers"
        content = sshsig.allowed_signers(self.cfg.users.values())
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        return path

    def decide(
        self,
        run_id: str,
        username: str,
        answer: str,
        reason: str,
        *,
        step: int | None = None,
        sig: Signature | None = None,
    ) -> RunState:
        """Answer a decision step Ya/Tidak, signed."""
        answer = {"y": "ya", "yes": "ya", "ya": "ya", "t": "tidak", "no": "tidak", "tidak": "tidak"}.get(
            answer.lower(), ""
        )
        if not answer:
            raise InvalidInputError("answer must be ya or tidak")
        if not reason.strip():
            raise InvalidInputError("a decision needs a reason", hint="pass --reason TEXT")
        return self._gate(run_id, username, StepKind.DECISION, answer, answer, reason, step, sig)

    def approve(
        self,
        run_id: str,
        username: str,
        approve: bool,
        comment: str,
        *,
        step: int | None = None,
        sig: Signature | None = None,
    ) -> RunState:
        """Approve or reject an approval step, signed; a plan-bound approval signs the plan hash."""
        if not approve and not comment.strip():
            raise InvalidInputError("a rejection needs a reason", hint="pass --comment TEXT")
        action = "approve" if approve else "reject"
        return self._gate(run_id, username, StepKind.APPROVAL, action, "ya" if approve else "tidak", comment, step, sig)

    def _gate(
        self,
        run_id: str,
        username: str,
        kind: StepKind,
        action: str,
        answer: str,
        comment: str,
        step: int | None,
        sig: Signature | None,
    ) -> RunState:
        """Sign and record a decision or approval on the current step, then move on."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, step)
        if cur.kind is not kind:
            raise ConflictError(f"step {cur.number} is a {cur.kind}, not a {kind}")
        user = self.cfg.user(username)
        role = check_may_act(sop, state, cur, user)
        plan_hash = self._gated_plan_hash(state, cur) if kind is StepKind.APPROVAL else "-"
        armored, payload = self._sign_or_check(state, sop, cur, user, action, plan_hash, comment, sig or Signature())
        nxt = machine.after(sop, cur, answer)
        ev_kind = Ev.DECIDED if kind is StepKind.DECISION else (Ev.APPROVED if answer == "ya" else Ev.REJECTED)
        ev = Event(
            ev_kind,
            username,
            {
                "step": cur.number,
                "action": action,
                "role": role,
                "comment": comment,
                "plan_hash": plan_hash,
                "signature": armored,
                "payload": payload,
                "rejects_request": answer == "tidak" and nxt.rejects_request,
            },
        )
        return self._finish_step(state, sop, cur, username, answer, comment, extra=[ev])

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

    # -- plan and apply ---------------------------------------------------------------------
    def _run_ctx(self, state: RunState, step: Step) -> dict[str, str]:
        """What SOP bindings may use as ``run``: id, requester, sop, and the step's output folder."""
        outputs = self.cfg.home / "runs" / state.run_id / "outputs" / f"step{step.number}"
        return {"id": state.run_id, "requester": state.requester, "sop": state.sop_id, "artifacts": str(outputs)}

    @staticmethod
    def _answers(state: RunState) -> dict[str, str]:
        """The signed answers of the run so far, ``{"<step>": "ya"|"tidak"}`` (latest per step).

        Given to the apply only, as ``sop_answers``: a decision taken after the plan was approved
        (SOP 32: Kabid's backup decision after the go-ahead) is a fact of the run, signed by its
        own gate, that the role checks at apply; it is not part of the plan hash.
        """
        answers: dict[str, str] = {}
        for gate in state.gates:
            answers[str(gate.step)] = "ya" if gate.action in ("ya", "approve") else "tidak"
        return answers

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
        data = ev.get("event_data") or {}
        name = ev.get("event", "")
        if name in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped"):
            res = data.get("res") or {}
            status = {
                "runner_on_ok": "changed" if isinstance(res, dict) and res.get("changed") else "ok",
                "runner_on_failed": "FAILED",
                "runner_on_unreachable": "UNREACHABLE",
                "runner_on_skipped": "skipped",
            }[name]
            self.progress(f"  [{data.get('host', '')}] {data.get('task', '')}: {status}")

    def plan(self, run_id: str, username: str) -> RunState:
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
        if not (user.roles & {"operator_dc", "staf_teknis", "staf", "kasi", "kabid", "kadis"}):
            raise ForbiddenError(f"{username} may not make plans", hint="plans are made by Kominfo staff")
        outcome = self._execute(state, sop, target, check=True)
        if not outcome.result.ok:
            self._append(
                state, [Event(Ev.ERROR, username, {"step": target.number, "message": "; ".join(outcome.result.errors)})]
            )
            raise ConflictError(
                f"plan of step {target.number} failed: {'; '.join(outcome.result.errors)}",
                hint="fix the cause (see the message) and plan again; nothing was changed",
            )
        return self._append(state, [self._plan_event(username, target, outcome)])

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
                    "vars": outcome.inputs.extravars,
                },
                "artifacts": outcome.result.artifacts,
            },
        )

    def apply(self, run_id: str, username: str, *, urgent_reason: str = "") -> RunState:
        """Apply exactly the approved plan of the current automated step."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, None)
        if urgent_reason and cur.approves_plan_of is not None:
            return self._urgent_apply(state, sop, cur, username, urgent_reason)
        if cur.kind is not StepKind.AUTOMATED or cur.automation is None:
            raise ConflictError(f"step {cur.number} is a {cur.kind}, not an automated step")
        user = self.cfg.user(username)
        check_may_act(sop, state, cur, user)
        gate_step = machine.approval_step_for(sop, cur)
        approved_hash = ""
        if gate_step is not None:
            gate = state.gate_for(gate_step.number)
            if gate is not None and gate.action == "approve":
                approved_hash = gate.plan_hash
        urgent = False
        if not approved_hash:
            if urgent_reason:
                if not sop.urgent_path:
                    raise ForbiddenError(f"{sop.id} has no urgent path", hint="get the approval first")
                urgent = True
            elif gate_step is not None:
                raise ForbiddenError(f"step {cur.number} needs the approval of step {gate_step.number} first")
        return self._apply_current(state, sop, cur, username, approved_hash, urgent=urgent, urgent_reason=urgent_reason)

    def _urgent_apply(self, state: RunState, sop: SopDefinition, gate: Step, username: str, reason: str) -> RunState:
        """Emergency SOPs: apply the bound step now; the gate stays open for the late approval."""
        if not sop.urgent_path:
            raise ForbiddenError(f"{sop.id} has no urgent path", hint="get the approval first")
        assert gate.approves_plan_of is not None
        target = sop.step(gate.approves_plan_of)
        check_may_act(sop, state, target, self.cfg.user(username))
        return self._apply_current(state, sop, target, username, "", urgent=True, urgent_reason=reason, advance=False)

    def _apply_current(
        self,
        state: RunState,
        sop: SopDefinition,
        cur: Step,
        username: str,
        approved_hash: str,
        *,
        urgent: bool = False,
        urgent_reason: str = "",
        resumed: bool = False,
        advance: bool = True,
    ) -> RunState:
        assert cur.automation is not None
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
            state = self._append(state, [self._plan_event(username, cur, replan)])
            nothing_to_do = replan.result.changed == 0
            if approved_hash and replan.hash != approved_hash and not (resumed and nothing_to_do):
                gate_step = machine.approval_step_for(sop, cur)
                assert gate_step is not None
                self._append(
                    state,
                    [
                        Event(
                            Ev.PLAN_STALE,
                            "sop-runner",
                            {"step": cur.number, "approved_hash": approved_hash, "new_hash": replan.hash},
                        ),
                        Event(Ev.STEP_STARTED, "sop-runner", {"step": gate_step.number}),
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
            state = self._append(state, pre)
            sop_plan = replan.inputs.stats.get("sop_plan", {})
            applied = self._execute(
                state, sop, cur, check=False, extra={"sop_approved_plan": sop_plan, "sop_answers": self._answers(state)}
            )
            hold = float(os.environ.get("SOP_FAULT_HOLD_AFTER_APPLY", "0") or 0)
            if hold:  # fault injection for tests: a crash window after the change, before it is recorded
                time.sleep(hold)
            events = [
                Event(Ev.HOST_RESULT, "sop-runner", {"step": cur.number, "host": h, **counts})
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
                state = self._append(state, events)
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
                        "sop-runner",
                        {"step": cur.number, "error": "; ".join(applied.result.errors), "rolled_back": rolled_back},
                    )
                )
                self._append(state, events)
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

    def resume(self, run_id: str, username: str) -> RunState:
        """Continue an interrupted or failed run without applying anything twice."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        if state.status not in (RunStatus.INTERRUPTED, RunStatus.FAILED):
            raise ConflictError(f"run {run_id} is {state.status}; only interrupted or failed runs resume")
        step_no = state.current
        assert step_no is not None
        cur = sop.step(step_no)
        self.cfg.user(username)
        was_interrupted = state.status is RunStatus.INTERRUPTED
        state = self._append(
            state,
            [Event(Ev.RESUMED, username, {"step": cur.number, "from": "interrupted" if was_interrupted else "failed"})],
        )
        gate_step = machine.approval_step_for(sop, cur)
        if was_interrupted and cur.kind is StepKind.AUTOMATED:
            gate = state.gate_for(gate_step.number) if gate_step else None
            approved = gate.plan_hash if gate and gate.action == "approve" else ""
            urgent = cur.number in state.urgent
            return self._apply_current(
                state,
                sop,
                cur,
                username,
                approved,
                urgent=urgent and not approved,
                urgent_reason="resumed urgent apply" if urgent else "",
                resumed=True,
            )
        # A failed apply may have changed things partly: the new plan must be approved again.
        target = gate_step.number if gate_step is not None else cur.number
        return self._append(state, [Event(Ev.STEP_STARTED, "sop-runner", {"step": target})])

    def cancel(self, run_id: str, username: str, reason: str) -> RunState:
        """Cancel a run that has not closed."""
        state = self.state(run_id)
        if state.status in (RunStatus.CLOSED, RunStatus.CANCELLED):
            raise ConflictError(f"run {run_id} is already {state.status}")
        if state.status is RunStatus.APPLYING:
            raise ConflictError(f"run {run_id} is applying right now", hint="wait for it to finish")
        user = self.cfg.user(username)
        if username != state.requester and not (user.roles & {"kasi", "kabid", "kadis"}):
            raise ForbiddenError(
                f"{username} may not cancel run {run_id}", hint="the requester or a Kasi/Kabid/Kadis may cancel"
            )
        if not reason.strip():
            raise InvalidInputError("cancelling needs a reason", hint="pass --reason TEXT")
        self.store.release_locks(run_id)
        return self._append(state, [Event(Ev.CANCELLED, username, {"reason": reason})])

    # -- paperwork --------------------------------------------------------------------------
    def _issue(self, state: RunState, sop: SopDefinition, doc_id: str, by: str) -> RunState:
        doc = sop.document_def(doc_id)
        rendered = documents.render(self, state, sop, doc)
        return self._append(
            state,
            [
                Event(
                    Ev.DOCUMENT_ISSUED,
                    by,
                    {
                        "doc_id": doc.id,
                        "kind": str(doc.kind),
                        "title": doc.title,
                        "sha256": rendered.sha256,
                        "files": rendered.files,
                    },
                )
            ],
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with Path(f"/proc/{pid}/stat").open(encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
