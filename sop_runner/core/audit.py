"""The tamper-evident audit log: what every row must carry and how it is checked.

Three layers, each catching what the one before cannot (docs/security.md):

1. **Content hash and signature.** Each event's content (run, its place in the run, kind,
   actor, data, and the content hash of the run's previous event) is hashed, and the
   actor signs a plain-text statement naming that hash: an official's or requester's own key
   for what they do, the runner's key for what the runner records. A row written straight
   into the database has no valid signature; a row moved within its run breaks the link.
2. **Global chain.** Each row's ``hash`` covers every stored field (the signature and the
   global order included) and the previous row's hash.
3. **Checkpoints outside the database.** After every append the runner signs the new chain
   head and writes it to an append-only file (and the head of the run to a file of its own),
   like Certificate Transparency's signed tree heads. A database rewritten and re-chained no
   longer matches them, and a row deleted at the end leaves a checkpoint pointing past it.

Verification is pure: rows in, problems out; signature checks are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sop_runner.core.canonical import digest, sha256_hex

GENESIS = "0" * 64
FORMAT = 2  # rows of format 1 (no signature on every row) are refused


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored event, as the audit sees it."""

    seq: int
    run_id: str
    run_seq: int
    ts: str
    kind: str
    actor: str
    data: dict[str, Any]
    content_hash: str
    signature: str
    prev_hash: str
    hash: str


def content_hash(run_id: str, run_seq: int, kind: str, actor: str, data: dict[str, Any], run_prev: str) -> str:
    """The hash the actor signs: the event and its link to the run's previous event.

    The time is not in it, so an official can sign a statement offline before it is stored;
    the time is covered by the row's chain hash and the checkpoints instead.
    """
    return digest(
        {
            "v": FORMAT,
            "run": run_id,
            "run_seq": run_seq,
            "kind": kind,
            "actor": actor,
            "data": data,
            "run_prev": run_prev,
        }
    )


def record_hash(
    seq: int,
    run_id: str,
    run_seq: int,
    ts: str,
    kind: str,
    actor: str,
    data: dict[str, Any],
    content: str,
    signature: str,
    prev_hash: str,
) -> str:
    """The chain hash a row must carry: every stored field and the previous row's hash."""
    return digest(
        {
            "v": FORMAT,
            "seq": seq,
            "run": run_id,
            "run_seq": run_seq,
            "ts": ts,
            "kind": kind,
            "actor": actor,
            "data": data,
            "content": content,
            "sig": signature,
            "prev": prev_hash,
        }
    )


def gate_lines(data: dict[str, Any], sop_id: str) -> list[str]:
    """The lines an official reads when signing a decision or approval."""
    return [
        f"sop: {sop_id}",
        f"step: {data.get('step', '')}",
        f"action: {data.get('action', '')}",
        f"plan: {data.get('plan_hash') or '-'}",
        f"comment-sha256: {sha256_hex(str(data.get('comment', '')))}",
    ]


def statement(
    run_id: str, run_seq: int, kind: str, actor: str, content: str, run_prev: str, extra: Iterable[str] = ()
) -> bytes:
    """The exact bytes an actor signs for one event (plain text, so a person can read it)."""
    lines = [
        "sop-runner signed event v2",
        f"run: {run_id}",
        f"seq-in-run: {run_seq}",
        f"kind: {kind}",
        f"actor: {actor}",
        *extra,
        f"after: {run_prev}",
        f"content-sha256: {content}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed chain head kept outside the database."""

    seq: int
    hash: str
    ts: str
    signature: str = ""

    def statement(self) -> bytes:
        """What the runner signs."""
        return f"sop-runner checkpoint v1\nseq: {self.seq}\nhash: {self.hash}\nts: {self.ts}\n".encode()


@dataclass(frozen=True, slots=True)
class RunHead:
    """The last event of one run as the runner last wrote it, signed, outside the database."""

    run_id: str
    run_seq: int
    content_hash: str
    signature: str = ""

    def statement(self) -> bytes:
        """What the runner signs."""
        return (
            f"sop-runner run head v1\nrun: {self.run_id}\nseq-in-run: {self.run_seq}\ncontent: {self.content_hash}\n"
        ).encode()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where the log breaks and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"row seq={self.seq}: {self.reason}" if self.seq else self.reason


SignatureCheck = Callable[[AuditRecord, bytes], str | None]
"""Given a row and the statement it should sign, None when its signature verifies, else why not."""
StatementExtra = Callable[[AuditRecord], list[str]]


def row_problems(row: AuditRecord, run_prev: str, check: SignatureCheck, extra: StatementExtra) -> list[ChainProblem]:
    """Everything wrong with one row on its own and as the successor of ``run_prev`` in its run."""
    problems: list[ChainProblem] = []
    want_content = content_hash(row.run_id, row.run_seq, row.kind, row.actor, row.data, run_prev)
    if want_content != row.content_hash:
        problems.append(ChainProblem(row.seq, "content does not match its signed hash (row edited or moved)"))
    want = record_hash(
        row.seq, row.run_id, row.run_seq, row.ts, row.kind, row.actor, row.data, row.content_hash,
        row.signature, row.prev_hash,
    )
    if want != row.hash:
        problems.append(ChainProblem(row.seq, "row does not match its chain hash (a field was edited)"))
    if not row.signature:
        problems.append(ChainProblem(row.seq, f"{row.kind} by {row.actor} is not signed"))
    else:
        # Signed over the content as it reads now: an edited row fails its signature too.
        text = statement(row.run_id, row.run_seq, row.kind, row.actor, want_content, run_prev, extra(row))
        bad = check(row, text)
        if bad:
            problems.append(ChainProblem(row.seq, f"signature of {row.actor} does not verify: {bad}"))
    return problems


def verify_run(rows: list[AuditRecord], check: SignatureCheck, extra: StatementExtra) -> list[ChainProblem]:
    """Check one run's rows: contiguous order, each row's content, link, chain hash and signature."""
    problems: list[ChainProblem] = []
    run_prev = GENESIS
    for i, row in enumerate(rows, 1):
        if row.run_seq != i:
            reason = f"event {i} of the run is missing or out of order (found {row.run_seq})"
            problems.append(ChainProblem(row.seq, reason))
        problems += row_problems(row, run_prev, check, extra)
        run_prev = row.content_hash
    return problems


def verify_chain(rows: Iterable[AuditRecord]) -> list[ChainProblem]:
    """Check the global order: no gap, no insertion, each row linked to the one before."""
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
        prev = row.hash
        expected_seq = row.seq + 1
    return problems
