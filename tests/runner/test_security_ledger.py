"""The approval promise under attack by a database writer, a clone writer, staff and requesters.

Each test plays one attack of issue #13 against the real runner (real ansible-runner plays
on the fixture SOP, real SSH keys, SQLite), then checks that `sop audit verify` names the
row and that the runner refuses to act before anything changes. The attacker knows the
algorithm: after tampering they recompute every hash and the chain head (`_rechain`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from sop_runner.adapters.signing.sshsig import generate_key
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import load_config
from sop_runner.core.audit import GENESIS, content_hash, record_hash
from sop_runner.core.run.state import RunStatus
from sop_runner.errors import AuditBrokenError, ConflictError, ForbiddenError, InvalidInputError
from sop_runner.service import audit
from sop_runner.service.runs import RunService

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


BOTH_STORES = True  # the store contract: tampering is caught on SQLite and PostgreSQL alike


def _rechain(store: EventStore) -> None:
    """What an attacker with write access does after editing: recompute content and chain hashes."""
    with store.raw() as conn:
        rows = conn.execute(text(
            "SELECT seq, run_id, run_seq, ts, kind, actor, data, signature FROM events ORDER BY seq")).all()
        prev, last = GENESIS, 0
        by_run: dict[str, list[Any]] = {}
        for r in rows:
            by_run.setdefault(r[1], []).append(r)
        content_of: dict[int, str] = {}
        for run_rows in by_run.values():
            run_prev_hash = GENESIS
            for r in sorted(run_rows, key=lambda x: x[2]):
                c = content_hash(r[1], r[2], r[4], r[5], json.loads(r[6]), run_prev_hash)
                content_of[r[0]] = c
                run_prev_hash = c
        for r in rows:
            h = record_hash(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), content_of[r[0]], r[7], prev)
            conn.execute(text("UPDATE events SET content_hash = :c, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"c": content_of[r[0]], "p": prev, "h": h, "s": r[0]})
            prev, last = h, r[0]
        conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h WHERE id = 1"), {"s": last, "h": prev})


def _approved_run(svc: RunService, target: Path) -> str:
    run_id = svc.request("test-file-change", "agus.dinkes",
                         {"skpd": "dinkes", "path": str(target), "content": "halo"}).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    svc.plan(run_id, "budi.teknis")
    svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=svc.reviewable_plan(run_id))
    return run_id


def _planned_run(svc: RunService, target: Path) -> str:
    run_id = svc.request("test-file-change", "agus.dinkes",
                         {"skpd": "dinkes", "path": str(target), "content": "halo"}).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    svc.plan(run_id, "budi.teknis")
    return run_id


def _problems(svc: RunService) -> list[str]:
    return [str(p) for p in audit.verify(svc.cfg, svc.store)[1]]


def test_inserted_unsigned_approval_is_named_and_refused(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    run_id = _planned_run(svc, target)
    plan_hash = svc.state(run_id).plans[4].hash
    with svc.store.raw() as conn:
        n = conn.execute(text("SELECT MAX(run_seq) FROM events WHERE run_id = :r"), {"r": run_id}).scalar()
        seq = conn.execute(text("SELECT MAX(seq) FROM events")).scalar()
        ts = conn.execute(text("SELECT ts FROM events WHERE seq = :s"), {"s": seq}).scalar()
        forged = {"step": 3, "action": "approve", "role": "kasi", "comment": "ok", "plan_hash": plan_hash,
                  "rejects_request": False}
        for i, (kind, actor, data) in enumerate([("step.approved", "rina.kasi", forged),
                                                 ("step.started", "sop-runner", {"step": 4})], 1):
            conn.execute(text(
                "INSERT INTO events (seq, run_id, run_seq, ts, kind, actor, data, prev_hash, hash) "
                "VALUES (:s, :r, :rs, :ts, :k, :a, :d, '', '')"),
                {"s": seq + i, "r": run_id, "rs": n + i, "ts": ts, "k": kind, "a": actor, "d": json.dumps(data)})
    _rechain(svc.store)
    found = _problems(svc)
    assert any(f"seq={seq + 1}" in p and "not signed" in p for p in found), found
    with pytest.raises(AuditBrokenError, match=rf"frozen.*seq={seq + 1}"):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists(), "nothing may be applied on a forged approval"


def test_deleted_last_row_reopening_a_cancelled_run_is_caught(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    run_id = _approved_run(svc, target)
    svc.cancel(run_id, "agus.dinkes", "tidak jadi")
    with svc.store.raw() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)"))
    _rechain(svc.store)
    assert any("deleted at the end" in p for p in _problems(svc)), _problems(svc)
    with pytest.raises(AuditBrokenError, match="frozen"):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists()


def test_swapped_rows_are_caught(svc: RunService, tmp_path: Path) -> None:
    run_id = _planned_run(svc, tmp_path / "out.txt")
    with svc.store.raw() as conn:
        conn.execute(text("UPDATE events SET run_seq = -1 WHERE run_id = :r AND run_seq = 3"), {"r": run_id})
        conn.execute(text("UPDATE events SET run_seq = 3 WHERE run_id = :r AND run_seq = 4"), {"r": run_id})
        conn.execute(text("UPDATE events SET run_seq = 4 WHERE run_id = :r AND run_seq = -1"), {"r": run_id})
    _rechain(svc.store)
    found = _problems(svc)
    assert any("signature" in p or "checkpoint" in p for p in found), found
    with pytest.raises(AuditBrokenError):
        svc.plan(run_id, "budi.teknis")


def test_edited_approval_of_a_bigger_change_is_refused(svc: RunService, tmp_path: Path) -> None:
    """The approval's plan hash and the run's parameters edited to another change, then re-chained."""
    target = tmp_path / "out.txt"
    run_id = _approved_run(svc, target)
    with svc.store.raw() as conn:
        for kind, field, value in (("run.requested", "params", None), ("step.approved", "comment", "60U")):
            seq, raw = conn.execute(text("SELECT seq, data FROM events WHERE run_id = :r AND kind = :k"),
                                    {"r": run_id, "k": kind}).one()
            data = json.loads(raw)
            if value is None:
                data["params"]["content"] = "sesuatu yang lain"
            else:
                data[field] = value
            conn.execute(text("UPDATE events SET data = :d WHERE seq = :s"), {"d": json.dumps(data), "s": seq})
    _rechain(svc.store)
    assert any("signature" in p for p in _problems(svc))
    with pytest.raises(AuditBrokenError):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists()


def test_approval_signed_through_another_config_is_refused(
    svc: RunService, tmp_path: Path, config_path: Path
) -> None:
    """A staff member points a second config (same database, same home) at their own key for the Kasi."""
    target = tmp_path / "out.txt"
    run_id = _planned_run(svc, target)
    pub = generate_key(tmp_path / "mallory", "mallory")
    evil = yaml.safe_load(config_path.read_text())
    for user in evil["users"]:
        if user["username"] == "rina.kasi":
            user.pop("public_key_file", None)
            user["public_key"], user["private_key_file"] = pub, str(tmp_path / "mallory")
    evil_path = tmp_path / "evil.yml"
    evil_path.write_text(yaml.safe_dump(evil))
    mallory = RunService(load_config(str(evil_path)))
    mallory.approve(run_id, "rina.kasi", True, "ok", plan_hash=mallory.reviewable_plan(run_id))
    assert any("rina.kasi" in p and "signature" in p for p in _problems(svc))
    with pytest.raises(AuditBrokenError):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists()


def test_approval_names_the_plan_reviewed(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    run_id = _planned_run(svc, target)
    reviewed = svc.reviewable_plan(run_id)
    target.write_text("berubah\n")  # NetBox (here: the file) changed; the operator re-plans
    svc.plan(run_id, "budi.teknis")
    before = svc.state(run_id).version
    with pytest.raises(ConflictError, match="not the plan now at the gate"):
        svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=reviewed)
    with pytest.raises(InvalidInputError, match="plan_hash"):
        svc.approve(run_id, "rina.kasi", True, "ok")
    assert svc.state(run_id).version == before, "nothing was signed"


def test_resume_checks_the_role(svc: RunService, tmp_path: Path, make_runner_config: Any) -> None:
    target = tmp_path / "out.txt"
    run_id = _approved_run(svc, target)
    state = svc.state(run_id)
    # Record an apply whose process died (pid 2**22 is never alive), signed as the operator.
    _, signer = svc.person("budi.teknis")
    svc.ledger.append(state, [svc_event("apply.started", "budi.teknis", {"step": 4, "plan_hash": "x",
                                                                      "pid": 2**22, "host": _host()})], signer)
    assert svc.state(run_id).status is RunStatus.INTERRUPTED
    with pytest.raises(ForbiddenError):
        svc.resume(run_id, "agus.dinkes")  # a requester may not complete the apply
    assert not target.exists()
    svc.resume(run_id, "budi.teknis")
    assert target.read_text() == "halo\n"


def test_action_without_the_persons_key_is_refused(tmp_path: Path, make_runner_config: Any) -> None:
    keyless = [{"username": "tamu.staf", "name": "Tamu", "roles": ["kasi", "staf_teknis", "kabid", "kadis"],
                "public_key_file": "keys/rina.kasi.pub"}]
    cfg = make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", FIXTURES / "sops", keyless)
    svc = RunService(load_config(str(cfg)))
    run_id = _planned_run(svc, tmp_path / "x")
    before = svc.state(run_id).version
    for act in (lambda: svc.plan(run_id, "tamu.staf"), lambda: svc.cancel(run_id, "tamu.staf", "iseng")):
        with pytest.raises(ForbiddenError, match="must sign"):
            act()
    assert svc.state(run_id).version == before


def test_frozen_run_needs_an_administrators_signed_decision(
    tmp_path: Path, make_runner_config: Any
) -> None:
    pub = generate_key(tmp_path / "adm", "adm")
    admin = [{"username": "adi.admin", "name": "Adi", "roles": ["admin"], "public_key": pub,
              "private_key_file": str(tmp_path / "adm")}]
    svc = RunService(load_config(str(make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                                                        FIXTURES / "sops", admin))))
    target = tmp_path / "out.txt"
    run_id = _approved_run(svc, target)
    with svc.store.raw() as conn:  # the approval's comment edited in place (no re-chain)
        seq, raw = conn.execute(text("SELECT seq, data FROM events WHERE kind = 'step.approved'")).one()
        conn.execute(text("UPDATE events SET data = :d WHERE seq = :s"),
                     {"d": raw.replace('"ok"', '"diubah"'), "s": seq})
    with pytest.raises(AuditBrokenError, match=f"seq={seq}"):
        svc.state(run_id)
    with pytest.raises(ForbiddenError, match="administrator"):
        svc.resolve(run_id, "rina.kasi", "continue", "saya kira aman")
    svc.resolve(run_id, "adi.admin", "continue", "diperiksa: catatan diubah, rencana tetap")
    assert svc.state(run_id).current == 4, "the run reads again after the decision"
    with pytest.raises(AuditBrokenError, match="approval of step 3"):
        svc.apply(run_id, "budi.teknis")  # accepting a bad row never makes it an approval
    assert not target.exists()
    svc.cancel(run_id, "rina.kasi", "persetujuan harus ditandatangani ulang")
    assert svc.state(run_id).status is RunStatus.CANCELLED


def svc_event(kind: str, actor: str, data: dict[str, Any]) -> Any:
    from sop_runner.core.run.events import Ev, Event

    return Event(Ev(kind), actor, data)


def _host() -> str:
    import socket

    return socket.gethostname()


def test_lock_of_a_killed_apply_holds_until_resume_or_cancel(svc: RunService, tmp_path: Path) -> None:
    """Two runs on one target: a killed apply keeps its lock; the other waits; a cancel frees it."""
    target = tmp_path / "shared.txt"
    run_a = _approved_run(svc, target)
    run_b = _approved_run(svc, target)
    lock = f"file:{target}"
    svc.store.acquire_locks(run_a, [lock])  # as the killed apply of run A left it
    _, signer = svc.person("budi.teknis")
    svc.ledger.append(svc.state(run_a), [svc_event("apply.started", "budi.teknis", {
        "step": 4, "plan_hash": "x", "pid": 2**22, "host": _host()})], signer)
    assert svc.state(run_a).status is RunStatus.INTERRUPTED
    with pytest.raises(ConflictError, match=f"being changed by run {run_a}"):
        svc.apply(run_b, "budi.teknis")
    assert not target.exists() and svc.store.locks() == {lock: run_a}
    svc.cancel(run_a, "agus.dinkes", "dibatalkan setelah gangguan")
    assert svc.store.locks() == {}
    svc.apply(run_b, "budi.teknis")
    assert target.read_text() == "halo\n" and svc.store.locks() == {}


def test_audit_scrub_cleans_old_artifacts(
    svc: RunService, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sop_runner.cli.main import main

    secret = "tok-" + "7f3a9c" * 6
    monkeypatch.setenv("SOP_TEST_SECRET", secret)
    leak = svc.cfg.home / "runs" / "20260101-deadbeef" / "ansible" / "step4-apply-1" / "artifacts" / "stdout"
    leak.parent.mkdir(parents=True)
    leak.write_text(f"Authorization: Token {secret}\n")
    leak.chmod(0o644)
    assert main(["audit", "scrub", "--config", str(config_path)]) == 0
    assert secret not in leak.read_text() and "Authorization: Token" in leak.read_text()
    assert leak.stat().st_mode & 0o777 == 0o600
