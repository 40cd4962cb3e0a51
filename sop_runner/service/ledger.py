"""The ledger: a run's events loaded only after they verify, and appended only signed.

Every command goes through here: ``load`` checks each event of the run (its signature by its
actor, its content hash, its link to the run's previous event, its chain hash) and the last
signed checkpoints outside the database before the state is folded; a run whose record does
not verify is frozen (AuditBrokenError naming the row) until an administrator's signed
decision (``sop audit resolve``). ``append`` signs each event as its actor (a person's key or
the runner's), stores them in one transaction, then writes the new checkpoints.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sop_runner.adapters.signing.keyring import RUNNER, Keyring, Signer
from sop_runner.adapters.storage.store import EventStore, to_event
from sop_runner.config import RunnerConfig
from sop_runner.core.audit import (
    GENESIS,
    AuditRecord,
    ChainProblem,
    Checkpoint,
    RunHead,
    content_hash,
    gate_lines,
    row_problems,
    statement,
    verify_run,
)
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState, apply_event, fold
from sop_runner.errors import AuditBrokenError, ForbiddenError

GATE_EVENTS = frozenset({Ev.DECIDED.value, Ev.APPROVED.value, Ev.REJECTED.value})
# What only a person may sign: a runner-signed approval or request is a forgery.
PERSON_EVENTS = GATE_EVENTS | {Ev.REQUESTED.value, Ev.AUDIT_RESOLVED.value, Ev.CANCELLED.value, Ev.RESUMED.value}


def utcnow() -> str:
    """Now, as the ISO-8601 UTC string the log records."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so what is signed equals what is stored and read back."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))
    return loaded


class Ledger:
    """Verified reads and signed appends over the event store and the checkpoint files."""

    def __init__(self, cfg: RunnerConfig, store: EventStore) -> None:
        self.cfg = cfg
        self.store = store
        cfg.audit_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (cfg.audit_dir / "runs").mkdir(exist_ok=True, mode=0o700)
        self.keys = Keyring(cfg.users, cfg.runner_key)

    # -- statements -------------------------------------------------------------------------
    @staticmethod
    def extra_lines(row_kind: str, data: dict[str, Any], sop_id: str) -> list[str]:
        """Readable lines a gate's statement carries (what the official decides, on which plan)."""
        return gate_lines(data, sop_id) if row_kind in GATE_EVENTS else []

    def statement_for(self, state: RunState, kind: Ev, actor: str, data: dict[str, Any]) -> bytes:
        """The statement ``actor`` would sign for this event as the run's next one (offline signing)."""
        clean = _jsonable(data)
        run_seq = state.version + 1
        content = content_hash(state.run_id, run_seq, str(kind), actor, clean, state.head)
        extra = self.extra_lines(str(kind), clean, state.sop_id)
        return statement(state.run_id, run_seq, str(kind), actor, content, state.head, extra)

    # -- reading ----------------------------------------------------------------------------
    def problems(self, rows: list[AuditRecord], *, checkpoint: bool = True) -> list[ChainProblem]:
        """Everything wrong with one run's record, and (``checkpoint``) the last global checkpoint."""
        sop_id = str(rows[0].data.get("sop_id", "")) if rows and rows[0].kind == Ev.REQUESTED.value else ""
        problems = verify_run(
            rows, self._check, lambda row: self.extra_lines(row.kind, row.data, sop_id)
        )
        known = {e.value for e in Ev}
        problems += [ChainProblem(r.seq, f"unknown event kind {r.kind!r}") for r in rows if r.kind not in known]
        if rows:
            problems += self._run_head_problems(rows)
        if checkpoint:
            problems += self.checkpoint_problems(last_only=True)
        return problems

    def _check(self, row: AuditRecord, text: bytes) -> str | None:
        if row.actor == RUNNER and row.kind in PERSON_EVENTS:
            return f"{row.kind} must be signed by a person, not by the runner"
        return self.keys.verify(row.actor, text, row.signature)

    def load(self, run_id: str) -> RunState:
        """The run's state, folded from events that all verify; else the run is frozen."""
        rows = self.store.run_rows(run_id)
        open_problems = self.unresolved(rows, self.problems(rows))
        if open_problems:
            listed = "; ".join(str(p) for p in open_problems[:5])
            raise AuditBrokenError(
                f"run {run_id} is frozen: its record does not verify ({listed})",
                hint="nothing was done. An administrator reviews `sop audit verify` and decides with "
                f"`sop audit resolve {run_id} --decision cancel|continue -m REASON`",
            )
        return fold([to_event(r) for r in rows])

    def unresolved(self, rows: list[AuditRecord], problems: list[ChainProblem]) -> list[ChainProblem]:
        """Problems no administrator's verified resolution in this run has accepted."""
        accepted: set[tuple[int, str, str]] = set()
        run_prev = GENESIS
        for row in rows:
            if row.kind == Ev.AUDIT_RESOLVED.value and not self._resolution_invalid(row, run_prev):
                for item in row.data.get("accepted", []):
                    accepted.add((int(item.get("seq", 0)), str(item.get("hash", "")), str(item.get("reason", ""))))
            run_prev = row.content_hash
        by_seq = {r.seq: r.hash for r in rows}
        return [p for p in problems if (p.seq, by_seq.get(p.seq, ""), p.reason) not in accepted]

    def row_problem(self, rows: list[AuditRecord], seq: int) -> str:
        """What is wrong with the row ``seq`` of this run on its own ('' when it verifies),
        whatever an administrator accepted: used before acting on an approval."""
        sop_id = str(rows[0].data.get("sop_id", "")) if rows and rows[0].kind == Ev.REQUESTED.value else ""
        run_prev = GENESIS
        for row in rows:
            if row.seq == seq:
                found = row_problems(row, run_prev, self._check, lambda r: self.extra_lines(r.kind, r.data, sop_id))
                return "; ".join(p.reason for p in found)
            run_prev = row.content_hash
        return f"row {seq} is not in this run"

    def _resolution_invalid(self, row: AuditRecord, run_prev: str) -> bool:
        user = self.cfg.users.get(row.actor)
        if user is None or not user.has("admin"):
            return True
        text = statement(row.run_id, row.run_seq, row.kind, row.actor, row.content_hash, run_prev)
        return bool(
            self._check(row, text)
            or content_hash(row.run_id, row.run_seq, row.kind, row.actor, row.data, run_prev) != row.content_hash
        )

    def _run_head_problems(self, rows: list[AuditRecord]) -> list[ChainProblem]:
        path = self._run_head_path(rows[0].run_id)
        if not path.is_file():
            return [ChainProblem(0, f"run {rows[0].run_id}: its signed head outside the database is missing")]
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            head = RunHead(str(raw["run_id"]), int(raw["run_seq"]), str(raw["content_hash"]), str(raw["signature"]))
        except (OSError, ValueError, KeyError, TypeError):
            return [ChainProblem(0, f"run {rows[0].run_id}: its signed head file {path} is unreadable")]
        bad = self.keys.verify(RUNNER, head.statement(), head.signature)
        if bad or head.run_id != rows[0].run_id:
            return [ChainProblem(0, f"run {rows[0].run_id}: its head file is not signed by the runner ({bad})")]
        if len(rows) < head.run_seq:
            return [ChainProblem(rows[-1].seq, f"the run ends at event {len(rows)} but its signed head is event "
                                 f"{head.run_seq} (events deleted at the end)")]
        at = rows[head.run_seq - 1]
        if at.content_hash != head.content_hash:
            reason = f"event {head.run_seq} differs from the one the runner signed as the run's head"
            return [ChainProblem(at.seq, reason)]
        return []

    def checkpoint_problems(self, *, last_only: bool) -> list[ChainProblem]:
        """Each signed checkpoint (or only the last) against the database's rows."""
        path = self.cfg.audit_dir / "checkpoints.log"
        lines = _tail(path) if last_only else (path.read_text(encoding="utf-8").splitlines() if path.is_file() else [])
        head_seq, _ = self.store.chain_head()
        if not lines:
            missing = ChainProblem(0, f"no signed checkpoint in {path}, but the log has {head_seq} rows")
            return [missing] if head_seq else []
        problems: list[ChainProblem] = []
        for n, line in enumerate(lines, 1):
            try:
                raw = json.loads(line)
                cp = Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["ts"]), str(raw["signature"]))
            except (ValueError, KeyError, TypeError):
                problems.append(ChainProblem(0, f"checkpoint line {n} of {path} is unreadable"))
                continue
            bad = self.keys.verify(RUNNER, cp.statement(), cp.signature)
            if bad:
                problems.append(ChainProblem(0, f"checkpoint at row {cp.seq} is not signed by the runner: {bad}"))
                continue
            row = self.store.row_at(cp.seq)
            if row is None:
                problems.append(ChainProblem(cp.seq, f"the signed checkpoint names row {cp.seq}, which is gone "
                                             f"(the log ends at row {head_seq}: rows deleted at the end)"))
            elif row.hash != cp.hash:
                problems.append(ChainProblem(cp.seq, "row differs from the signed checkpoint (the log was rewritten "
                                             "and re-chained)"))
        return problems

    # -- writing ----------------------------------------------------------------------------
    def append(self, state: RunState, events: list[Event], person: Signer | None) -> RunState:
        """Sign ``events`` (each as its actor), store them, write the checkpoints, fold them in."""
        runner = self.keys.runner()
        run_seq, prev = state.version, state.head
        signed: list[Event] = []
        for ev in events:
            run_seq += 1
            data = _jsonable(ev.data)
            content = content_hash(state.run_id, run_seq, str(ev.kind), ev.actor, data, prev)
            text = statement(
                state.run_id, run_seq, str(ev.kind), ev.actor, content, prev,
                self.extra_lines(str(ev.kind), data, state.sop_id),
            )
            signer = runner if ev.actor == RUNNER else person
            if signer is None or signer.principal != ev.actor:
                raise ForbiddenError(f"{ev.actor} must sign {ev.kind} themselves", hint="pass --key PATH")
            signature = signer.sign(text)
            bad = self.keys.verify(ev.actor, text, signature)
            if bad:
                raise ForbiddenError(
                    f"signature does not verify for {ev.actor} on run {state.run_id} ({ev.kind}): {bad}",
                    hint="sign exactly the statement of this run, step, action and plan "
                    "(`sop approve --print-statement`); a signature from another run or plan is refused",
                )
            signed.append(replace(ev, data=data, ts=utcnow(), run_seq=run_seq, content_hash=content,
                                  signature=signature))
            prev = content
        stamped, head_seq, head_hash = self.store.append(state.run_id, state.version, signed)
        self._write_run_head(state.run_id, run_seq, prev)
        self._write_checkpoint(head_seq, head_hash)
        if state.version == 0:
            new_state = fold(stamped)
        else:
            new_state = state
            for event in stamped:
                apply_event(new_state, event)
        self.store.write_snapshot(new_state)
        return new_state

    def _run_head_path(self, run_id: str) -> Path:
        return self.cfg.audit_dir / "runs" / f"{run_id}.json"

    def _write_run_head(self, run_id: str, run_seq: int, content: str) -> None:
        head = RunHead(run_id, run_seq, content)
        sig = self.keys.runner().sign(head.statement())
        path = self._run_head_path(run_id)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        _write_private(tmp, json.dumps({"run_id": run_id, "run_seq": run_seq, "content_hash": content,
                                        "signature": sig}))
        tmp.replace(path)  # atomic: a crash leaves the old head or the new one, never half

    def _write_checkpoint(self, seq: int, digest: str) -> None:
        cp = Checkpoint(seq, digest, utcnow())
        line = json.dumps({"seq": seq, "hash": digest, "ts": cp.ts, "signature": self.keys.runner().sign(
            cp.statement())}) + "\n"
        path = self.cfg.audit_dir / "checkpoints.log"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _tail(path: Path) -> list[str]:
    """The last line of a file, read from its end (the checkpoint log only grows)."""
    if not path.is_file():
        return []
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        lines = fh.read().decode("utf-8", "replace").splitlines()
    return lines[-1:] if lines else []
