"""A run's state, derived only from its events (so the audit log is the source of truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sop_runner.core.audit import GENESIS
from sop_runner.core.run.events import Ev, Event


class RunStatus(StrEnum):
    """Where a run stands."""

    OPEN = "open"  # waiting for someone to act on the current step
    APPLYING = "applying"  # a playbook is changing things right now
    INTERRUPTED = "interrupted"  # the runner died mid-apply: `sop resume`
    FAILED = "failed"  # apply or verification failed (perhaps rolled back)
    CLOSED = "closed"  # finished; see ``outcome``
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """How a closed run ended."""

    COMPLETED = "completed"
    REJECTED = "rejected"  # a Tidak branch was taken: the request was refused
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class StepVisit:
    """One stay of the run on a step (a revision loop visits a step again)."""

    step: int
    started: datetime
    ended: datetime | None = None
    by: str = ""
    outcome: str = ""  # done | ya | tidak | approved | rejected | applied | failed
    note: str = ""


@dataclass(slots=True)
class Plan:
    """The latest plan of an automated step."""

    step: int
    hash: str
    changed: int
    summary: list[dict[str, Any]]
    diff: str
    stats: dict[str, Any]
    created: datetime


@dataclass(slots=True)
class Gate:
    """A signed decision or approval."""

    step: int
    user: str
    role: str
    action: str
    plan_hash: str
    comment: str
    at: datetime
    seq: int = 0  # the signed row that recorded it (an apply re-verifies that row)


@dataclass(slots=True)
class RunState:
    """Everything known about a run."""

    run_id: str
    sop_id: str
    sop_digest: str
    requester: str
    params: dict[str, Any]
    created: datetime
    status: RunStatus = RunStatus.OPEN
    outcome: Outcome | None = None
    current: int | None = None
    visits: list[StepVisit] = field(default_factory=list)
    plans: dict[int, Plan] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    applied: dict[int, str] = field(default_factory=dict)  # step -> plan hash applied
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: bool = False
    urgent: dict[int, dict[str, Any]] = field(default_factory=dict)  # step -> urgent apply record
    apply_step: int | None = None
    apply_pid: int | None = None
    apply_host: str = ""
    last_error: str = ""
    version: int = 0  # number of events folded; optimistic concurrency token
    head: str = GENESIS  # content hash of the last event: the next event signs its link to it
    resolutions: list[dict[str, Any]] = field(default_factory=list)  # administrators' audit decisions

    def visit(self, step: int) -> StepVisit | None:
        """The open visit of ``step``, if any."""
        for v in reversed(self.visits):
            if v.step == step and v.ended is None:
                return v
        return None

    def gate_for(self, step: int) -> Gate | None:
        """The latest valid gate signed on ``step`` in its current visit."""
        visit_start = None
        for v in reversed(self.visits):
            if v.step == step:
                visit_start = v.started
                break
        for g in reversed(self.gates):
            if g.step == step and (visit_start is None or g.at >= visit_start):
                return g
        return None


def _ts(event: Event) -> datetime:
    return datetime.fromisoformat(event.ts)


def _close_visit(state: RunState, step: int, at: datetime, by: str, outcome: str, note: str = "") -> None:
    visit = state.visit(step)
    if visit is not None:
        visit.ended, visit.by, visit.outcome, visit.note = at, by, outcome, note


def fold(events: list[Event]) -> RunState:
    """Replay a run's events into its state."""
    if not events or events[0].kind is not Ev.REQUESTED:
        msg = "a run's first event must be run.requested"
        raise ValueError(msg)
    first = events[0]
    state = RunState(
        run_id=str(first.data["run_id"]),
        sop_id=str(first.data["sop_id"]),
        sop_digest=str(first.data["sop_digest"]),
        requester=first.actor,
        params=dict(first.data["params"]),
        created=_ts(first),
    )
    for event in events:
        apply_event(state, event)
    return state


def apply_event(state: RunState, event: Event) -> None:
    """Fold one event into the state."""
    at = _ts(event)
    data = event.data
    state.version += 1
    state.head = event.content_hash or state.head
    kind = event.kind
    if kind is Ev.STEP_STARTED:
        state.current = int(data["step"])
        state.visits.append(StepVisit(step=int(data["step"]), started=at))
        state.status = RunStatus.OPEN
    elif kind is Ev.STEP_COMPLETED:
        _close_visit(
            state, int(data["step"]), at, event.actor, str(data.get("outcome", "done")), str(data.get("note", ""))
        )
    elif kind in (Ev.DECIDED, Ev.APPROVED, Ev.REJECTED):
        action = str(data["action"])
        state.gates.append(
            Gate(
                step=int(data["step"]),
                user=event.actor,
                role=str(data.get("role", "")),
                action=action,
                plan_hash=str(data.get("plan_hash", "-")),
                comment=str(data.get("comment", "")),
                at=at,
                seq=event.seq,
            )
        )
        _close_visit(state, int(data["step"]), at, event.actor, action, str(data.get("comment", "")))
        if data.get("rejects_request"):
            state.rejected = True
    elif kind is Ev.PLAN_CREATED:
        state.plans[int(data["step"])] = Plan(
            step=int(data["step"]),
            hash=str(data["plan_hash"]),
            changed=int(data["changed"]),
            summary=list(data.get("summary", [])),
            diff=str(data.get("diff", "")),
            stats=dict(data.get("stats", {})),
            created=at,
        )
    elif kind is Ev.APPLY_STARTED:
        state.status = RunStatus.APPLYING
        state.apply_step = int(data["step"])
        state.apply_pid = int(data.get("pid", 0)) or None
        state.apply_host = str(data.get("host", ""))
    elif kind is Ev.APPLY_FINISHED:
        step = int(data["step"])
        state.apply_step, state.apply_pid = None, None
        if data["status"] == "successful":
            state.applied[step] = str(data.get("plan_hash", ""))
            state.status = RunStatus.OPEN
            _close_visit(state, step, at, event.actor, "applied", str(data.get("note", "")))
        else:
            state.status = RunStatus.FAILED
            state.last_error = str(data.get("error", "apply failed"))
    elif kind is Ev.APPLY_INTERRUPTED:
        state.status = RunStatus.INTERRUPTED
        state.apply_pid = None
    elif kind is Ev.URGENT_APPLY:
        state.urgent[int(data["step"])] = {**data, "by": event.actor, "at": event.ts}
    elif kind is Ev.RESUMED:
        state.status = RunStatus.OPEN
        state.last_error = ""
    elif kind is Ev.DOCUMENT_ISSUED:
        state.documents[str(data["doc_id"])] = dict(data)
    elif kind is Ev.FAILED:
        state.status = RunStatus.FAILED
        state.last_error = str(data.get("error", ""))
        if data.get("rolled_back"):
            state.outcome = Outcome.ROLLED_BACK
    elif kind is Ev.CLOSED:
        state.status = RunStatus.CLOSED
        state.outcome = Outcome(str(data["outcome"]))
        state.current = None
    elif kind is Ev.CANCELLED:
        state.status = RunStatus.CANCELLED
        state.outcome = Outcome.CANCELLED
        if state.current is not None:
            _close_visit(state, state.current, at, event.actor, "cancelled")
        state.current = None
    elif kind is Ev.AUDIT_RESOLVED:
        state.resolutions.append({**data, "by": event.actor, "at": event.ts})
    elif kind is Ev.ERROR:
        state.last_error = str(data.get("message", ""))
