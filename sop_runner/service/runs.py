"""Use cases of a run: request, act on steps, cancel, resolve; gates and applies in their modules.

Every command loads the run through the ledger (which refuses a record that does not verify),
checks the rule in ``core/policy``, and appends events signed by the acting person (their key)
and the runner (its key); nothing is changed when a rule refuses.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sop_runner.adapters.signing.keyring import RUNNER, Signer
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import RunnerConfig
from sop_runner.core.canonical import digest, sha256_hex
from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.model import SopDefinition, Step, StepKind
from sop_runner.core.params import validate_params
from sop_runner.core.people import User
from sop_runner.core.policy import check_may_act, check_may_cancel, check_may_request, check_may_resolve
from sop_runner.core.run import machine
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState, RunStatus
from sop_runner.core.text import checked_text
from sop_runner.errors import ConflictError, InvalidInputError, NotFoundError
from sop_runner.service import documents, planning
from sop_runner.service.applying import ApplyMixin, alive
from sop_runner.service.gates import GateMixin, Signature
from sop_runner.service.ledger import Ledger

Progress = Callable[[str], None]

__all__ = ["RunService", "Signature"]


class RunService(GateMixin, ApplyMixin):
    """The runner's use cases over one configuration."""

    def __init__(self, config: RunnerConfig, progress: Progress | None = None) -> None:
        self.cfg = config
        self.store = EventStore(config.database)
        self.ledger = Ledger(config, self.store)
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
        """The run's verified state (a dead apply is noticed and recorded as interrupted)."""
        state = self.ledger.load(run_id)
        if (
            state.status is RunStatus.APPLYING
            and state.apply_host == socket.gethostname()
            and state.apply_pid
            and not alive(state.apply_pid)
        ):
            reason = f"runner process {state.apply_pid} is gone"
            state = self._append(state, [Event(Ev.APPLY_INTERRUPTED, RUNNER, {"step": state.apply_step,
                                                                               "reason": reason})])
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

    def signer(self, user: User, sig: Signature | None = None) -> Signer:
        """The acting user's signer, checked after the policy (refused without their key)."""
        sig = sig or Signature()
        return self.ledger.keys.person(user, sig.key_file, sig.armored)

    def person(self, username: str, sig: Signature | None = None) -> tuple[User, Signer]:
        """The acting user and their signer (refused without their key: no proof, no action)."""
        user = self.cfg.user(username)
        return user, self.signer(user, sig)

    # -- writing ----------------------------------------------------------------------------
    def _append(self, state: RunState, events: list[Event], person: Signer | None = None) -> RunState:
        return self.ledger.append(state, events, person)

    # -- request ----------------------------------------------------------------------------
    def request(self, sop_id: str, requester: str, params: dict[str, Any], *, sig: Signature | None = None) -> RunState:
        """Create a run; validates everything before anything is stored."""
        sop = self.sop(sop_id)
        user = self.cfg.user(requester)
        check_may_request(sop, user, None)
        typed = validate_params(sop, params)
        check_may_request(sop, user, str(typed["skpd"]) if "skpd" in typed else None)
        self._check_bindings(sop, typed)
        signer = self.signer(user, sig)
        run_id = datetime.now(UTC).strftime("%Y%m%d") + "-" + uuid.uuid4().hex[:8]
        first = sop.steps[0]
        events = [
            Event(
                Ev.REQUESTED,
                requester,
                {"run_id": run_id, "sop_id": sop.id, "sop_digest": digest(sop.model_dump(mode="json")),
                 "params": typed},
            ),
            Event(Ev.STEP_STARTED, RUNNER, {"step": first.number}),
        ]
        seed = RunState(
            run_id=run_id, sop_id=sop.id, sop_digest="", requester=requester, params=typed, created=datetime.now(UTC)
        )
        state = self._append(seed, events, signer)
        # The requester's own leading row ("SKPD mengajukan permohonan") is done by submitting.
        if sop.actor(first.actor).role == "requester" and first.kind is StepKind.MANUAL:
            state = self._finish_step(state, sop, first, signer, "done", "permohonan diajukan")
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
        self, run_id: str, username: str, *, step: int | None = None, note: str = "",
        evidence: list[Path] | None = None, sig: Signature | None = None,
    ) -> RunState:
        """Confirm a manual, notify or document step (signed by the person who confirms)."""
        state = self.state(run_id)
        sop = self.sop_of(state)
        cur = self._current(state, sop, step)
        if cur.kind in (StepKind.DECISION, StepKind.APPROVAL):
            raise ConflictError(f"step {cur.number} is a {cur.kind}: use `sop decide` or `sop approve/reject`")
        if cur.kind is StepKind.AUTOMATED:
            raise ConflictError(f"step {cur.number} is automated: use `sop plan` and `sop apply`")
        checked_text("note", note)
        user = self.cfg.user(username)
        check_may_act(sop, state, cur, user)
        signer = self.signer(user, sig)
        files = []
        for path in evidence or []:
            if not path.is_file():
                raise InvalidInputError(f"evidence file {path} does not exist", hint="give a path to an existing file")
            files.append(self._store_evidence(state.run_id, cur.number, path))
        if cur.kind is StepKind.DOCUMENT:
            state = self._issue(state, sop, cur.document, username)
        return self._finish_step(state, sop, cur, signer, "done", note, evidence=files)

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
        by: Signer,
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
                    by.principal,
                    {"step": step.number, "outcome": outcome, "note": note, "evidence": evidence or []},
                )
            )
        state = self._append(state, events, by)
        for doc_id in step.produces:
            state = self._issue(state, sop, doc_id, by.principal)
        return self._advance(state, sop, step, "tidak" if outcome in ("tidak", "reject") else "ya")

    def _advance(self, state: RunState, sop: SopDefinition, step: Step, answer: str) -> RunState:
        nxt = machine.after(sop, step, answer)
        if nxt.step is None:
            outcome = "rejected" if state.rejected or nxt.rejects_request else "completed"
            return self._append(state, [Event(Ev.CLOSED, RUNNER, {"outcome": outcome})])
        nxt_step = sop.step(nxt.step)
        if nxt_step.kind is StepKind.AUTOMATED and nxt.step in state.urgent and nxt.step in state.applied:
            # Applied earlier on the urgent path and now approved: record it, do not apply twice.
            done = {"step": nxt.step, "outcome": "applied", "note": "applied earlier on the urgent path",
                    "evidence": []}
            state = self._append(
                state,
                [Event(Ev.STEP_STARTED, RUNNER, {"step": nxt.step}), Event(Ev.STEP_COMPLETED, RUNNER, done)],
            )
            for doc_id in nxt_step.produces:
                state = self._issue(state, sop, doc_id, RUNNER)
            return self._advance(state, sop, nxt_step, "ya")
        return self._append(state, [Event(Ev.STEP_STARTED, RUNNER, {"step": nxt.step})])

    def cancel(self, run_id: str, username: str, reason: str, *, sig: Signature | None = None) -> RunState:
        """Cancel a run that has not closed."""
        state = self.state(run_id)
        if state.status in (RunStatus.CLOSED, RunStatus.CANCELLED):
            raise ConflictError(f"run {run_id} is already {state.status}")
        if state.status is RunStatus.APPLYING:
            raise ConflictError(f"run {run_id} is applying right now", hint="wait for it to finish")
        user = self.cfg.user(username)
        check_may_cancel(state, user)
        signer = self.signer(user, sig)
        checked_text("reason", reason, required=True)
        state = self._append(state, [Event(Ev.CANCELLED, username, {"reason": reason})], signer)
        self.store.release_locks(run_id)
        return state

    def resolve(
        self, run_id: str, username: str, decision: str, reason: str, *, sig: Signature | None = None
    ) -> RunState:
        """An administrator's signed decision on a frozen run: accept the named problems and go on, or cancel.

        Accepting never makes a forged approval count: an apply re-verifies every approval it
        relies on by its signer's key and role.
        """
        if decision not in ("continue", "cancel"):
            raise InvalidInputError("--decision must be 'continue' or 'cancel'", hint="choose one")
        checked_text("reason", reason, required=True)
        user = self.cfg.user(username)
        check_may_resolve(user)
        signer = self.signer(user, sig)
        rows = self.store.run_rows(run_id)
        problems = self.ledger.unresolved(rows, self.ledger.problems(rows))
        if not problems:
            raise ConflictError(f"run {run_id} verifies; there is nothing to resolve")
        by_seq = {r.seq: r.hash for r in rows}
        accepted = [{"seq": p.seq, "hash": by_seq.get(p.seq, ""), "reason": p.reason} for p in problems]
        from sop_runner.adapters.storage.store import to_event
        from sop_runner.core.run.state import fold

        state = fold([to_event(r) for r in rows])
        events = [Event(Ev.AUDIT_RESOLVED, username, {"decision": decision, "reason": reason, "accepted": accepted})]
        if decision == "cancel" and state.status not in (RunStatus.CLOSED, RunStatus.CANCELLED):
            events.append(Event(Ev.CANCELLED, username, {"reason": f"audit: {reason}"}))
        state = self._append(state, events, signer)
        if decision == "cancel":
            self.store.release_locks(run_id)
        return state

    # -- paperwork --------------------------------------------------------------------------
    def _issue(self, state: RunState, sop: SopDefinition, doc_id: str, by: str) -> RunState:
        """Render a document; the runner records it (and who caused it), signed with its key."""
        doc = sop.document_def(doc_id)
        rendered = documents.render(self, state, sop, doc)
        data = {"doc_id": doc.id, "kind": str(doc.kind), "title": doc.title, "sha256": rendered.sha256,
                "files": rendered.files, "by": by, "digests": rendered.digests}
        return self._append(state, [Event(Ev.DOCUMENT_ISSUED, RUNNER, data)])
