"""The event store: append-only, hash-chained events plus a snapshot table for listing runs.

Appends are serialised through the single ``chain_head`` row (a row lock on PostgreSQL, the
write lock on SQLite), so the global chain never forks, and each append checks the run's
expected version so two people acting on the same run at once cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from sop_runner.adapters.storage.migrations import MIGRATIONS
from sop_runner.core.audit import AuditRecord, record_hash
from sop_runner.core.run.events import Ev, Event
from sop_runner.core.run.state import RunState
from sop_runner.errors import ConflictError, NotFoundError


def utcnow() -> str:
    """Now, as the ISO-8601 UTC string the store records."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class EventStore:
    """Runs and their events in one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                # Let pysqlite not open transactions itself; we issue BEGIN IMMEDIATE so the
                # write lock is taken before the chain head is read.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self.migrate()

    # -- schema -----------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
            row = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
            current = int(row or 0)
            for version, _name, statements in MIGRATIONS:
                if version <= current:
                    continue
                for stmt in statements:
                    conn.execute(text(stmt))
                conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})
                current = version
        return current

    def schema_version(self) -> int:
        """The applied schema version."""
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar() or 0)

    # -- writing ----------------------------------------------------------------------------
    def append(
        self, run_id: str, expected_version: int, events: list[Event], snapshot: RunState | None = None
    ) -> tuple[list[Event], int, str]:
        """Append signed events to a run if it is still at ``expected_version``.

        The ledger has already set each event's ``ts``, ``run_seq``, ``content_hash`` and
        ``signature``; the store places them in the global chain. Returns the stored events
        (with ``seq``) and the new chain head (seq, hash).
        """
        stamped: list[Event] = []
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE chain_head SET seq = seq WHERE id = 1"))  # take the lock
            head = conn.execute(text("SELECT seq, hash FROM chain_head WHERE id = 1")).one()
            seq, prev = int(head[0]), str(head[1])
            have = int(
                conn.execute(
                    text("SELECT COUNT(*) FROM events WHERE run_id = :r"),
                    {"r": run_id},
                ).scalar()
                or 0
            )
            if have != expected_version:
                raise ConflictError(
                    f"run {run_id} changed while you were acting on it (version {have}, expected {expected_version})",
                    hint="look at `sop show` again and repeat the action if it still applies",
                )
            for i, ev in enumerate(events, have + 1):
                if ev.run_seq != i or not ev.content_hash or not ev.signature or not ev.ts:
                    msg = f"event {ev.kind} reached the store unsigned or out of place (run_seq {ev.run_seq}, want {i})"
                    raise ValueError(msg)
                seq += 1
                data = _jsonable(ev.data)
                digest = record_hash(
                    seq, run_id, ev.run_seq, ev.ts, str(ev.kind), ev.actor, data, ev.content_hash, ev.signature, prev
                )
                conn.execute(
                    text(
                        "INSERT INTO events (seq, run_id, run_seq, ts, kind, actor, data, prev_hash, hash, "
                        "content_hash, signature) "
                        "VALUES (:seq, :run, :rs, :ts, :kind, :actor, :data, :prev, :hash, :content, :sig)",
                    ),
                    {
                        "seq": seq,
                        "run": run_id,
                        "rs": ev.run_seq,
                        "ts": ev.ts,
                        "kind": str(ev.kind),
                        "actor": ev.actor,
                        "data": json.dumps(data, sort_keys=True, ensure_ascii=False),
                        "prev": prev,
                        "hash": digest,
                        "content": ev.content_hash,
                        "sig": ev.signature,
                    },
                )
                prev = digest
                stamped.append(
                    Event(
                        kind=ev.kind, actor=ev.actor, data=data, ts=ev.ts, seq=seq, run_seq=ev.run_seq,
                        content_hash=ev.content_hash, signature=ev.signature,
                    )
                )
            conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": prev})
            if snapshot is not None:
                self._write_snapshot(conn, snapshot)
        return stamped, seq, prev

    def write_snapshot(self, s: RunState) -> None:
        """Update the listing row of a run (no chain lock: it is derived, not audited)."""
        with self.engine.begin() as conn:
            self._write_snapshot(conn, s)

    def _write_snapshot(self, conn: Connection, s: RunState) -> None:
        now = utcnow()
        params = {
            "r": s.run_id,
            "sop": s.sop_id,
            "req": s.requester,
            "st": str(s.status),
            "out": str(s.outcome) if s.outcome else None,
            "cur": s.current,
            "cr": s.created.isoformat(),
            "up": now,
        }
        updated = conn.execute(
            text(
                "UPDATE runs SET status = :st, outcome = :out, current_step = :cur, updated = :up WHERE run_id = :r",
            ),
            params,
        ).rowcount
        if not updated:
            conn.execute(
                text(
                    "INSERT INTO runs (run_id, sop_id, requester, status, outcome, current_step, created, updated) "
                    "VALUES (:r, :sop, :req, :st, :out, :cur, :cr, :up)",
                ),
                params,
            )

    # -- reading ----------------------------------------------------------------------------
    def events(self, run_id: str) -> list[Event]:
        """A run's events in order (unverified: the ledger checks them before use)."""
        return [to_event(r) for r in self.run_rows(run_id)]

    def run_rows(self, run_id: str) -> list[AuditRecord]:
        """A run's stored rows in run order, as the audit sees them."""
        with self.engine.connect() as conn:
            result = conn.execute(text(_ROW_SQL + " WHERE run_id = :r ORDER BY run_seq"), {"r": run_id})
            rows = [_record(r) for r in result]
        if not rows:
            raise NotFoundError(f"no run {run_id!r}", hint="`sop runs` lists the runs")
        return rows

    def row_at(self, seq: int) -> AuditRecord | None:
        """The row with global sequence ``seq``, if any."""
        with self.engine.connect() as conn:
            r = conn.execute(text(_ROW_SQL + " WHERE seq = :s"), {"s": seq}).first()
        return _record(r) if r is not None else None

    def runs(self) -> list[dict[str, Any]]:
        """The snapshot of every run, newest first."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "SELECT run_id, sop_id, requester, status, outcome, current_step, created, updated "
                        "FROM runs ORDER BY created DESC",
                    )
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def audit_rows(self) -> Iterator[AuditRecord]:
        """Every stored event as an audit record, in chain order."""
        with self.engine.connect() as conn:
            for r in conn.execute(text(_ROW_SQL + " ORDER BY seq")):
                yield _record(r)

    def chain_head(self) -> tuple[int, str]:
        """The last sequence number and hash (to detect truncation at the end)."""
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT seq, hash FROM chain_head WHERE id = 1")).one()
        return int(row[0]), str(row[1])

    # -- target locks -----------------------------------------------------------------------
    def acquire_locks(self, run_id: str, targets: list[str]) -> None:
        """Lock every target for ``run_id`` or none; a lock held by the same run is kept."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE chain_head SET seq = seq WHERE id = 1"))
            for target in sorted(set(targets)):
                holder = conn.execute(text("SELECT run_id FROM locks WHERE target = :t"), {"t": target}).scalar()
                if holder is not None and holder != run_id:
                    raise ConflictError(
                        f"target {target!r} is being changed by run {holder}",
                        hint=f"wait until run {holder} finishes applying (or resume/cancel it), then apply again",
                    )
                if holder is None:
                    conn.execute(
                        text("INSERT INTO locks (target, run_id, acquired) VALUES (:t, :r, :a)"),
                        {"t": target, "r": run_id, "a": utcnow()},
                    )

    def release_locks(self, run_id: str) -> None:
        """Release every lock ``run_id`` holds."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM locks WHERE run_id = :r"), {"r": run_id})

    def locks(self) -> dict[str, str]:
        """target -> run id."""
        with self.engine.connect() as conn:
            return {str(r[0]): str(r[1]) for r in conn.execute(text("SELECT target, run_id FROM locks"))}

    # -- document numbering register ------------------------------------------------------
    def reserve_number(
        self, agency: str, kind: str, year: int, run_id: str, doc_id: str, fmt: Callable[[int], str]
    ) -> tuple[int, str]:
        """Take the next number of ``agency``'s register for ``kind`` in ``year``.

        The counter row is created if missing (``ON CONFLICT DO NOTHING``, so two first issues
        of a year do not both insert) and then incremented in place: the UPDATE takes the row's
        write lock on PostgreSQL and SQLite's BEGIN IMMEDIATE serialises the whole transaction,
        so two runs issuing at once wait for each other and never read the same value. The
        number is kept as ``reserved`` in the same transaction; :meth:`settle_number` marks it
        ``issued`` or ``cancelled``. A counter never goes down, so a number is never reused.
        """
        key = {"a": agency, "k": kind, "y": year}
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO doc_counters (agency, kind, year, last) VALUES (:a, :k, :y, 0) "
                    "ON CONFLICT (agency, kind, year) DO NOTHING"
                ),
                key,
            )
            conn.execute(
                text("UPDATE doc_counters SET last = last + 1 WHERE agency = :a AND kind = :k AND year = :y"), key
            )
            seq = int(
                conn.execute(
                    text("SELECT last FROM doc_counters WHERE agency = :a AND kind = :k AND year = :y"), key
                ).scalar_one()
            )
            number = fmt(seq)
            conn.execute(
                text(
                    "INSERT INTO doc_numbers (agency, kind, year, seq, number, run_id, doc_id, status, updated) "
                    "VALUES (:a, :k, :y, :s, :n, :r, :d, 'reserved', :u)"
                ),
                {**key, "s": seq, "n": number, "r": run_id, "d": doc_id, "u": utcnow()},
            )
        return seq, number

    def settle_number(self, agency: str, kind: str, year: int, seq: int, status: str) -> None:
        """Mark a reserved number ``issued`` or ``cancelled`` (it stays in the register either way)."""
        if status not in ("issued", "cancelled"):
            raise ValueError(f"number status must be 'issued' or 'cancelled', got {status!r}")
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE doc_numbers SET status = :st, updated = :u "
                    "WHERE agency = :a AND kind = :k AND year = :y AND seq = :s"
                ),
                {"st": status, "u": utcnow(), "a": agency, "k": kind, "y": year, "s": seq},
            )

    def numbers(self, agency: str | None = None) -> list[dict[str, Any]]:
        """The register's rows (every number ever taken), oldest first."""
        sql = "SELECT agency, kind, year, seq, number, run_id, doc_id, status, updated FROM doc_numbers"
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(sql + (" WHERE agency = :a" if agency else "") + " ORDER BY agency, kind, year, seq"),
                {"a": agency} if agency else {},
            ).mappings().all()
        return [dict(r) for r in rows]

    @contextmanager
    def raw(self) -> Iterator[Connection]:
        """A raw transaction (tests use it to tamper with rows)."""
        with self.engine.begin() as conn:
            yield conn


_ROW_SQL = "SELECT seq, run_id, run_seq, ts, kind, actor, data, content_hash, signature, prev_hash, hash FROM events"


def _record(r: Any) -> AuditRecord:
    try:
        data = json.loads(r[6])
    except json.JSONDecodeError:
        data = {"__unparsable__": r[6]}
    if not isinstance(data, dict):
        data = {"__unparsable__": r[6]}
    return AuditRecord(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]), data, str(r[7] or ""),
                       str(r[8] or ""), str(r[9]), str(r[10]))


def to_event(row: AuditRecord) -> Event:
    """A stored row as the event the fold reads (an unknown kind is refused by the ledger first)."""
    return Event(kind=Ev(row.kind), actor=row.actor, data=row.data, ts=row.ts, seq=row.seq, run_seq=row.run_seq,
                 content_hash=row.content_hash, signature=row.signature)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so what is hashed equals what is stored and read back."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))
    return loaded
