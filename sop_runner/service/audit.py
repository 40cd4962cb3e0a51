"""Verify the whole audit log: the hash chain and every signature in it."""

from __future__ import annotations

from sop_runner.adapters.signing import sshsig
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import RunnerConfig
from sop_runner.core.audit import AuditRecord, ChainProblem, verify_chain
from sop_runner.core.signing import SignedAction


def verify(cfg: RunnerConfig, store: EventStore) -> tuple[int, list[ChainProblem]]:
    """Return (rows checked, problems)."""
    signers = cfg.home / "allowed_signers"
    signers.write_text(sshsig.allowed_signers(cfg.users.values()), encoding="utf-8")
    sop_of_run: dict[str, str] = {}

    def check(row: AuditRecord) -> str | None:
        data = row.data
        expected = (
            SignedAction(
                run_id=row.run_id,
                sop_id=sop_of_run.get(row.run_id, ""),
                step=int(data.get("step", 0)),
                action=str(data.get("action", "")),
                plan_hash=str(data.get("plan_hash", "-")),
                user=row.actor,
                comment=str(data.get("comment", "")),
            )
            .payload()
            .decode("utf-8")
        )
        if data.get("payload") != expected:
            return "the signed payload does not match this row's run, step, action, plan or comment"
        return sshsig.verify(expected.encode("utf-8"), str(data.get("signature", "")), row.actor, signers)

    rows: list[AuditRecord] = []
    for row in store.audit_rows():
        if row.kind == "run.requested":
            sop_of_run[row.run_id] = str(row.data.get("sop_id", ""))
        rows.append(row)
    problems = verify_chain(rows, check)
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
    return len(rows), problems
