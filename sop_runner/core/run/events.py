"""Event kinds. A run's state is the fold of its events; the audit log stores them chained."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Ev(StrEnum):
    """Every kind of event the runner records."""

    REQUESTED = "run.requested"
    STEP_STARTED = "step.started"
    STEP_COMPLETED = "step.completed"
    DECIDED = "step.decided"
    APPROVED = "step.approved"
    REJECTED = "step.rejected"
    PLAN_CREATED = "plan.created"
    PLAN_STALE = "plan.stale"
    APPLY_STARTED = "apply.started"
    HOST_RESULT = "apply.host_result"
    APPLY_FINISHED = "apply.finished"
    APPLY_INTERRUPTED = "apply.interrupted"
    URGENT_APPLY = "apply.urgent"
    DOCUMENT_ISSUED = "document.issued"
    CLOSED = "run.closed"
    FAILED = "run.failed"
    CANCELLED = "run.cancelled"
    RESUMED = "run.resumed"
    AUDIT_RESOLVED = "audit.resolved"  # an administrator's signed decision on a frozen run
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a run."""

    kind: Ev
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: str = ""  # ISO-8601 UTC, set by the store when it is appended
    seq: int = 0  # global audit sequence, set by the store
    run_seq: int = 0  # place in the run (1-based), set by the ledger before signing
    content_hash: str = ""  # core.audit.content_hash, what the actor signs
    signature: str = ""  # the actor's armored SSH signature over the statement
