"""The tamper-evident audit chain.

Every event is one row; its ``hash`` covers its own content and the previous row's hash, so
editing, deleting or inserting a row breaks the chain at that position. The chain is global
(across runs) so removing a whole run is detected too. Verification is pure: it takes rows and
returns the problems, and a signature checker is passed in for the signed rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sop_runner.core.canonical import digest

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored event, as the chain sees it."""

    seq: int
    run_id: str
    ts: str
    kind: str
    actor: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


def record_hash(seq: int, run_id: str, ts: str, kind: str, actor: str, data: dict[str, Any], prev_hash: str) -> str:
    """The hash a row must carry."""
    return digest(
        {
            "seq": seq,
            "run_id": run_id,
            "ts": ts,
            "kind": kind,
            "actor": actor,
            "data": data,
            "prev": prev_hash,
        }
    )


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where the chain breaks and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"row seq={self.seq}: {self.reason}"


SignatureCheck = Callable[[AuditRecord], str | None]
"""Returns None when a signed row verifies, else the reason it does not."""


def verify_chain(rows: Iterable[AuditRecord], check_signature: SignatureCheck | None = None) -> list[ChainProblem]:
    """Recompute the chain; report every edited, deleted, inserted or badly signed row."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                reason = f"rows {expected_seq}..{row.seq - 1} are missing (deleted)"
            else:
                reason = f"sequence goes back from {expected_seq - 1} to {row.seq} (inserted row)"
            problems.append(ChainProblem(row.seq, reason))
        if row.prev_hash != prev:
            problems.append(
                ChainProblem(row.seq, "prev_hash does not match the previous row (row inserted or removed before it)")
            )
        want = record_hash(row.seq, row.run_id, row.ts, row.kind, row.actor, row.data, row.prev_hash)
        if want != row.hash:
            problems.append(ChainProblem(row.seq, "content does not match its hash (row edited)"))
        if check_signature is not None and "signature" in row.data:
            bad = check_signature(row)
            if bad:
                problems.append(ChainProblem(row.seq, f"signature does not verify: {bad}"))
        prev = row.hash
        expected_seq = row.seq + 1
    return problems
