"""The audit log pinpoints edited, deleted and inserted rows, and bad signatures."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from sop_runner.cli.main import main
from sop_runner.service import audit
from sop_runner.service.runs import RunService

BOTH_STORES = True  # the store contract: tampering is caught on SQLite and PostgreSQL alike


def _some_history(svc: RunService, tmp_path: Path) -> str:
    run_id = svc.request("test-file-change", "agus.dinkes",
                         {"skpd": "dinkes", "path": str(tmp_path / "a"), "content": "x"}).run_id
    svc.decide(run_id, "hendra.kabid", "tidak", "ditolak")
    svc.complete(run_id, "rina.kasi", note="surat")
    return run_id


def test_clean_log_verifies(svc: RunService, tmp_path: Path) -> None:
    _some_history(svc, tmp_path)
    rows, problems = audit.verify(svc.cfg, svc.store)
    assert rows >= 6 and problems == []


def test_edited_row_is_pinpointed(svc: RunService, tmp_path: Path) -> None:
    _some_history(svc, tmp_path)
    with svc.store.raw() as conn:
        row = conn.execute(text("SELECT data FROM events WHERE seq = 4")).scalar()
        data = json.loads(row)
        data["note"] = "diubah diam-diam"
        conn.execute(text("UPDATE events SET data = :d WHERE seq = 4"), {"d": json.dumps(data)})
    _, problems = audit.verify(svc.cfg, svc.store)
    assert {p.seq for p in problems} == {4}
    assert all("edited" in p.reason or "signature" in p.reason for p in problems)


def test_deleted_and_inserted_rows_are_pinpointed(svc: RunService, tmp_path: Path) -> None:
    _some_history(svc, tmp_path)
    with svc.store.raw() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = 3"))
    _, problems = audit.verify(svc.cfg, svc.store)
    assert any(p.seq == 4 and "missing" in p.reason for p in problems)
    with svc.store.raw() as conn:
        conn.execute(text(
            "INSERT INTO events (seq, run_id, run_seq, ts, kind, actor, data, prev_hash, hash) "
            "SELECT 3, run_id, 99, ts, kind, actor, data, prev_hash, hash FROM events WHERE seq = 2"))
    _, problems = audit.verify(svc.cfg, svc.store)
    assert any(p.seq == 3 for p in problems)


def test_truncated_tail_is_detected(svc: RunService, tmp_path: Path) -> None:
    _some_history(svc, tmp_path)
    last = svc.store.chain_head()[0]
    with svc.store.raw() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = :s"), {"s": last})
    _, problems = audit.verify(svc.cfg, svc.store)
    assert any("deleted" in p.reason for p in problems)


def test_forged_decision_is_detected(svc: RunService, tmp_path: Path) -> None:
    """Turning a signed 'tidak' into 'ya' in the database breaks hash and signature both."""
    _some_history(svc, tmp_path)
    with svc.store.raw() as conn:
        seq, raw = conn.execute(text("SELECT seq, data FROM events WHERE kind = 'step.decided'")).one()
        data = json.loads(raw)
        data["action"] = "ya"
        conn.execute(text("UPDATE events SET data = :d WHERE seq = :s"), {"d": json.dumps(data), "s": seq})
    _, problems = audit.verify(svc.cfg, svc.store)
    reasons = " ".join(p.reason for p in problems if p.seq == seq)
    assert "edited" in reasons and "signature" in reasons


def test_cli_audit_verify_exit_codes(svc: RunService, tmp_path: Path, config_path: Path, capsys) -> None:
    _some_history(svc, tmp_path)
    assert main(["audit", "verify", "--config", str(config_path)]) == 0
    with svc.store.raw() as conn:
        conn.execute(text("UPDATE events SET actor = 'mallory' WHERE seq = 2"))
    capsys.readouterr()
    assert main(["audit", "verify", "--config", str(config_path), "--json"]) == 8
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"][0]["seq"] == 2
