"""A run from request to closed, with real ansible-runner plans and applies (no lab needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError, ForbiddenError, InvalidInputError
from sop_runner.service import audit
from sop_runner.service.runs import RunService


def _request(svc: RunService, target: Path, content: str = "halo", **extra: str) -> str:
    params = {"skpd": "dinkes", "path": str(target), "content": content, **extra}
    return svc.request("test-file-change", "agus.dinkes", params).run_id


def _to_approval(svc: RunService, run_id: str) -> None:
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    svc.plan(run_id, "budi.teknis")


def test_full_run_applies_exactly_the_approved_plan(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    run_id = _request(svc, target)
    state = svc.state(run_id)
    assert state.current == 2, "the requester's own first step is done by submitting"
    _to_approval(svc, run_id)
    state = svc.state(run_id)
    plan = state.plans[4]
    assert plan.changed >= 1 and "+halo" in plan.diff, plan.diff
    assert not target.exists(), "planning (check mode) must change nothing"
    svc.approve(run_id, "rina.kasi", True, "sesuai rencana", plan_hash=svc.reviewable_plan(run_id))
    assert svc.state(run_id).gates[-1].plan_hash == plan.hash
    svc.apply(run_id, "budi.teknis")
    assert target.read_text() == "halo\n"
    svc.approve(run_id, "sutrisno.kadis", True, "BA ditandatangani", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="surat jawaban")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert set(state.documents) == {"ba", "laporan", "surat"}
    for doc in state.documents.values():
        for fmt in ("md", "html", "pdf"):
            assert Path(doc["files"][fmt]).stat().st_size > 0
    laporan = Path(state.documents["laporan"]["files"]["md"]).read_text()
    assert plan.hash in laporan and "+halo" in laporan and "Rina Kusumawati" in laporan
    rows, problems = audit.verify(svc.cfg, svc.store)
    assert rows > 10 and problems == []


def test_stale_plan_is_refused_and_returns_to_approval(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    run_id = _request(svc, target)
    _to_approval(svc, run_id)
    approved = svc.state(run_id).plans[4].hash
    svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=svc.reviewable_plan(run_id))
    target.write_text("someone else changed it\n")  # the world moved since the plan
    with pytest.raises(ConflictError, match="plan changed since it was approved"):
        svc.apply(run_id, "budi.teknis")
    state = svc.state(run_id)
    assert state.current == 3 and state.status is RunStatus.OPEN
    assert state.plans[4].hash != approved
    assert target.read_text() == "someone else changed it\n", "nothing may be applied"
    svc.approve(run_id, "rina.kasi", True, "rencana baru disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.apply(run_id, "budi.teknis")
    assert target.read_text() == "halo\n"


def test_requester_cannot_approve_own_run(svc: RunService, tmp_path: Path) -> None:
    run_id = svc.request("test-file-change", "ani.ganda",
                         {"skpd": "diskominfo", "path": str(tmp_path / "x"), "content": "a"}).run_id
    _to_approval(svc, run_id)
    before = svc.state(run_id).version
    with pytest.raises(ForbiddenError, match="may not decide or approve"):
        svc.approve(run_id, "ani.ganda", True, "sendiri", plan_hash=svc.reviewable_plan(run_id))
    assert svc.state(run_id).version == before


def test_user_without_the_role_is_refused(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "x")
    with pytest.raises(ForbiddenError, match="does not hold role 'kabid'"):
        svc.decide(run_id, "dewi.staf", "ya", "bukan wewenang")


def test_one_person_may_not_sign_two_gates(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "x")
    svc.decide(run_id, "yusuf.plt", "ya", "sebagai Plt. Kabid")
    svc.plan(run_id, "budi.teknis")
    with pytest.raises(ForbiddenError, match="already signed step 2 as 'kabid'"):
        svc.approve(run_id, "yusuf.plt", True, "sebagai Kasi", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "rina.kasi", True, "Kasi lain menyetujui", plan_hash=svc.reviewable_plan(run_id))
    assert svc.state(run_id).current == 4


def test_signature_from_another_run_is_refused(svc: RunService, tmp_path: Path) -> None:
    from sop_runner.adapters.signing import sshsig
    from sop_runner.service.runs import Signature

    run_a = _request(svc, tmp_path / "a")
    run_b = _request(svc, tmp_path / "b")
    key = Path(svc.cfg.user("hendra.kabid").private_key_file)
    statement_a = svc.gate_statement(run_a, "hendra.kabid", "ya", "ok")  # what `--print-statement` shows
    assert b"run: " + run_a.encode() in statement_a and b"action: ya" in statement_a
    sig_a = sshsig.sign(statement_a, key)  # signed offline with ssh-keygen
    with pytest.raises(ForbiddenError, match="signature does not verify"):
        svc.decide(run_b, "hendra.kabid", "ya", "ok", sig=Signature(armored=sig_a))
    assert svc.state(run_b).current == 2
    svc.decide(run_a, "hendra.kabid", "ya", "ok", sig=Signature(armored=sig_a))  # valid where it belongs
    assert svc.state(run_a).current == 3


def test_approval_signature_is_bound_to_the_plan(svc: RunService, tmp_path: Path) -> None:
    from sop_runner.adapters.signing import sshsig
    from sop_runner.service.runs import Signature

    run_id = _request(svc, tmp_path / "a")
    _to_approval(svc, run_id)
    key = Path(svc.cfg.user("rina.kasi").private_key_file)
    shown = svc.reviewable_plan(run_id)
    other_plan = svc.gate_statement(run_id, "rina.kasi", "approve", "ok", plan_hash=shown).replace(
        shown.encode(), b"f" * 64
    )
    with pytest.raises(ForbiddenError, match="signature does not verify"):
        svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=shown, sig=Signature(armored=sshsig.sign(other_plan, key)))
    assert svc.state(run_id).current == 3, "nothing was recorded"


def test_tidak_branch_ends_with_letter_and_no_change(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "never.txt"
    run_id = _request(svc, target)
    svc.decide(run_id, "hendra.kabid", "tidak", "tidak sesuai blueprint")
    assert svc.state(run_id).current == 6
    svc.complete(run_id, "rina.kasi", note="surat penolakan")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.REJECTED
    letter = Path(state.documents["surat"]["files"]["md"]).read_text()
    assert "tidak dapat dipenuhi" in letter and "tidak sesuai blueprint" in letter
    assert not target.exists() and state.plans == {}


def test_apply_without_approval_is_refused(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "x")
    _to_approval(svc, run_id)
    with pytest.raises(ConflictError, match="not an automated step"):
        svc.apply(run_id, "budi.teknis")


def test_apply_at_the_step_without_its_gate_approved_is_refused(
    svc: RunService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were a catalogue to route around the approval, apply still refuses.

    The validator rejects such a flow (tests/catalogue), so the SOP is altered in memory only.
    """
    target = tmp_path / "x"
    sop = svc.sop("test-file-change")
    decision = sop.step(2)
    assert decision.branches is not None
    skipping = decision.model_copy(update={"branches": decision.branches.model_copy(update={"ya": 4})})
    altered = sop.model_copy(update={"steps": [skipping if s.number == 2 else s for s in sop.steps]})
    monkeypatch.setattr(svc, "sop", lambda sop_id: altered)
    run_id = _request(svc, target)
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    assert svc.state(run_id).current == 4, "the altered flow skipped the approval step"
    with pytest.raises(ForbiddenError, match="step 4 needs the approval of step 3 first"):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists()
    assert 4 not in svc.state(run_id).applied


def test_bad_request_names_the_field_and_creates_nothing(svc: RunService) -> None:
    before = len(svc.store.runs())
    with pytest.raises(InvalidInputError) as err:
        svc.request("test-file-change", "agus.dinkes", {"skpd": "Dinas Kesehatan!", "content": "x", "colour": "red"})
    msg = str(err.value)
    assert "skpd:" in msg and "path: required" in msg and "colour" in msg
    assert len(svc.store.runs()) == before


def test_requester_only_for_own_skpd(svc: RunService, tmp_path: Path) -> None:
    with pytest.raises(ForbiddenError, match="belongs to SKPD 'dinkes'"):
        svc.request("test-file-change", "agus.dinkes", {"skpd": "bkd", "path": str(tmp_path / "x"), "content": "a"})


def test_target_lock_blocks_a_second_apply(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    run_id = _request(svc, target)
    _to_approval(svc, run_id)
    svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=svc.reviewable_plan(run_id))
    svc.store.acquire_locks("other-run", [f"file:{target}"])
    with pytest.raises(ConflictError, match="being changed by run other-run"):
        svc.apply(run_id, "budi.teknis")
    assert not target.exists()
    svc.store.release_locks("other-run")
    svc.apply(run_id, "budi.teknis")
    assert target.exists()


def test_failed_verification_fails_the_run_and_resume_reapproves(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "f.txt", fail_verify="ya")
    _to_approval(svc, run_id)
    svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=svc.reviewable_plan(run_id))
    with pytest.raises(ConflictError, match="verification failed on purpose"):
        svc.apply(run_id, "budi.teknis")
    assert svc.state(run_id).status is RunStatus.FAILED
    svc.resume(run_id, "budi.teknis")
    state = svc.state(run_id)
    assert state.status is RunStatus.OPEN and state.current == 3


def test_secrets_never_stored(svc: RunService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-" + "x9" * 10
    monkeypatch.setenv("SOP_TEST_SECRET", secret)
    run_id = _request(svc, tmp_path / "s.txt", echo_secret="ya")
    _to_approval(svc, run_id)
    svc.approve(run_id, "rina.kasi", True, "ok", plan_hash=svc.reviewable_plan(run_id))
    svc.apply(run_id, "budi.teknis")
    leaked = [p for p in svc.cfg.home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaked == []
    stdout = list(svc.cfg.home.rglob("stdout"))
    assert stdout and any(b"********" in p.read_bytes() for p in stdout), "the secret was printed and masked"


def test_cancel_needs_reason_and_ends_the_run(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "c")
    with pytest.raises(InvalidInputError):
        svc.cancel(run_id, "agus.dinkes", "")
    svc.cancel(run_id, "agus.dinkes", "tidak jadi")
    assert svc.state(run_id).status is RunStatus.CANCELLED


def test_urgent_path_acts_first_and_is_approved_afterwards(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "urgent.txt"
    run_id = svc.request("test-urgent", "agus.dinkes", {"skpd": "dinkes", "path": str(target), "content": "tambal"}).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "serangan terkonfirmasi")
    svc.apply(run_id, "budi.teknis", urgent_reason="serangan aktif, patch sekarang")
    state = svc.state(run_id)
    assert target.read_text() == "tambal\n", "the urgent apply acts before approval"
    assert state.current == 3 and 4 in state.urgent and 4 in state.applied
    applied_hash = state.applied[4]
    svc.approve(run_id, "rina.kasi", True, "disetujui setelah tindakan darurat", plan_hash=svc.reviewable_plan(run_id))
    state = svc.state(run_id)
    assert state.gates[-1].plan_hash == applied_hash, "the late approval signs the applied plan"
    assert state.current == 5, "the applied step is recorded, not applied twice"
    svc.approve(run_id, "sutrisno.kadis", True, "BA", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="laporan")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and applied_hash
    laporan = Path(state.documents["laporan"]["files"]["md"]).read_text()
    assert "JALUR DARURAT" in laporan and "disetujui kemudian oleh rina.kasi" in laporan


def test_urgent_path_refused_where_the_sop_has_none(svc: RunService, tmp_path: Path) -> None:
    run_id = _request(svc, tmp_path / "x")
    svc.decide(run_id, "hendra.kabid", "ya", "ok")
    with pytest.raises(ForbiddenError, match="has no urgent path"):
        svc.apply(run_id, "budi.teknis", urgent_reason="buru-buru")
    assert not (tmp_path / "x").exists()


def test_request_checked_against_the_bound_roles_argument_specs(
    svc: RunService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bound variables are checked with Ansible's own argument-spec validator at request time."""
    from sop_runner.config import repo_root
    from sop_runner.core.catalogue import validate
    from sop_runner.core.catalogue.loader import load_file

    sop, _ = load_file(repo_root() / "sops" / "wonosobo" / "57-permohonan-ip-publik.yml")
    assert sop is not None
    good = {"skpd": "dinkes", "server": "srv-dmz-dinkes-01", "interface": "eth0", "dns_name": "", "ports": ["443"],
            "justification": "x"}
    svc._check_bindings(sop, good)  # the real role's argument_specs accept it
    # A role whose spec wants an integer VLAN where the SOP binds a name: refused up front.
    monkeypatch.setattr(validate, "role_options", lambda _repo, _role: {
        "netbox_public_ip_interface": {"type": "int"}, "netbox_public_ip_tenant": {"choices": ["bkd"]}})
    with pytest.raises(InvalidInputError) as err:
        svc._check_bindings(sop, good)
    assert "netbox_public_ip_interface" in str(err.value) and "netbox_public_ip_tenant" in str(err.value)
