"""`sop docs verify FILE`: an issued document is accepted offline, a changed byte refuses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sop_runner.adapters.paperwork.numbering import NUMBER_RE
from sop_runner.cli.exitcodes import ExitCode
from sop_runner.cli.main import main
from sop_runner.config import load_config
from sop_runner.service.runs import RunService


def _letter(config_path: Path, tmp_path: Path) -> tuple[str, dict[str, str]]:
    svc = RunService(load_config(str(config_path)))
    params = {"skpd": "dinkes", "path": str(tmp_path / "never.txt"), "content": "x"}
    run_id = svc.request("test-file-change", "agus.dinkes", params).run_id
    svc.decide(run_id, "hendra.kabid", "tidak", "tidak sesuai blueprint")
    svc.complete(run_id, "rina.kasi", note="surat penolakan")
    return run_id, svc.state(run_id).documents["surat"]["files"]


def _flip(src: Path, dst: Path, at: int) -> Path:
    data = bytearray(src.read_bytes())
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("fmt", ["pdf", "md", "html"])
def test_an_issued_document_verifies_and_one_changed_byte_is_refused(
    fmt: str, config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, files = _letter(config_path, tmp_path)
    c = ["--config", str(config_path)]
    issued = Path(files[fmt])
    assert main(["docs", "verify", str(issued), "--json", *c]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["run_id"] == run_id and out["doc_id"] == "surat" and out["format"] == fmt
    copy = tmp_path / f"salinan.{fmt}"
    shutil.copy(issued, copy)
    assert main(["docs", "verify", str(copy), *c]) == ExitCode.OK, "a faithful copy anywhere verifies"
    capsys.readouterr()
    middle = issued.stat().st_size // 2
    assert main(["docs", "verify", str(_flip(issued, copy, middle)), *c]) == ExitCode.NOT_FOUND
    assert "no document with SHA-256" in capsys.readouterr().err
    _flip(issued, issued, middle)  # the run's own file changed in place
    assert main(["docs", "verify", str(issued), *c]) == ExitCode.AUDIT_BROKEN
    assert "changed since it was issued" in capsys.readouterr().err


def test_the_check_line_and_qr_code_are_on_the_document(config_path: Path, tmp_path: Path) -> None:
    from pdfminer.high_level import extract_text

    run_id, files = _letter(config_path, tmp_path)
    md = Path(files["md"]).read_text(encoding="utf-8")
    page = Path(files["html"]).read_text(encoding="utf-8")
    number = NUMBER_RE.search(md)
    assert number
    from sop_runner.core.canonical import sha256_hex

    line = f"Nomor {number[0]} | Run {run_id} | SHA-256 {sha256_hex(md)}"
    assert line in page and "table class='qr'" in page and page.count("<td class='d'>") > 200
    assert line in " ".join(extract_text(files["pdf"]).split())


def test_verify_refuses_a_tampered_log(config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    run_id, files = _letter(config_path, tmp_path)
    svc = RunService(load_config(str(config_path)))
    with svc.store.raw() as conn:
        conn.execute(text("UPDATE events SET actor = 'orang.lain' WHERE run_id = :r AND run_seq = 2"), {"r": run_id})
    assert main(["docs", "verify", files["pdf"], "--config", str(config_path)]) == ExitCode.AUDIT_BROKEN
    assert "audit log does not verify" in capsys.readouterr().err


def test_verify_names_what_is_wrong_with_its_argument(config_path: Path, tmp_path: Path) -> None:
    c = ["--config", str(config_path)]
    assert main(["docs", "verify", *c]) == ExitCode.INVALID_INPUT
    assert main(["docs", "verify", str(tmp_path / "x.txt"), *c]) == ExitCode.INVALID_INPUT
    assert main(["docs", "verify", str(tmp_path / "hilang.pdf"), *c]) == ExitCode.NOT_FOUND
