"""Verify the whole audit log: the global chain, every run's signed events, every checkpoint."""

from __future__ import annotations

from collections import defaultdict

from sop_runner.adapters.execution.redact import scrub_run_dir
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import RunnerConfig
from sop_runner.core.audit import AuditRecord, ChainProblem, verify_chain
from sop_runner.service.ledger import Ledger


def verify(cfg: RunnerConfig, store: EventStore) -> tuple[int, list[ChainProblem]]:
    """Return (rows checked, problems), each problem naming its row or the checkpoint."""
    ledger = Ledger(cfg, store)
    rows: list[AuditRecord] = list(store.audit_rows())
    problems = verify_chain(rows)
    by_run: dict[str, list[AuditRecord]] = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(row)
    for run_rows in by_run.values():
        run_rows.sort(key=lambda r: r.run_seq)
        # Checkpoints are global: the full list is checked once below, not once per run.
        problems += ledger.problems(run_rows, checkpoint=False)
    problems += ledger.checkpoint_problems(last_only=False)
    head_seq, head_hash = store.chain_head()
    last = rows[-1] if rows else None
    if last is None and head_seq:
        problems.append(ChainProblem(head_seq, "the chain head says rows exist but the log is empty"))
    elif last is not None and (last.seq != head_seq or last.hash != head_hash):
        problems.append(
            ChainProblem(
                last.seq,
                f"the log ends at row {last.seq} but the chain head is row {head_seq} (rows at the end deleted)",
            )
        )
    unique: dict[tuple[int, str], ChainProblem] = {}
    for p in problems:
        unique.setdefault((p.seq, p.reason), p)
    return len(rows), sorted(unique.values(), key=lambda p: (p.seq, p.reason))


def scrub(cfg: RunnerConfig) -> int:
    """Remove every configured secret value from every run's stored files; return files changed."""
    runs = cfg.home / "runs"
    return scrub_run_dir(runs, cfg.secrets()) if runs.is_dir() else 0
