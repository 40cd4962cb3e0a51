"""The run commands' exit codes and JSON output: part of the CLI's contract."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sop_runner.cli.main import main
from sop_runner.service.runs import RunService
from sop_runner.service.sla import visit_rows


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_whole_run_from_the_shell(config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config_path)]
    target = tmp_path / "cli.txt"
    assert main(["request", "test-file-change", "--as", "agus.dinkes", "--json", "-p", "skpd=dinkes",
                 "-p", f"path={target}", "-p", "content=dari shell", *c]) == 0
    run_id = _json(capsys)["run_id"]
    assert main(["decide", run_id, "ya", "--as", "hendra.kabid", "-m", "ok", *c]) == 0
    capsys.readouterr()
    assert main(["plan", run_id, "--as", "budi.teknis", "--json", *c]) == 0
    plan = _json(capsys)["plans"]["4"]
    assert "+dari shell" in plan["diff"]
    seen = ["--plan", plan["hash"][:16]]  # the plan the Kasi reviewed
    assert main(["approve", run_id, "--as", "agus.dinkes", "-m", "sendiri", *seen, *c]) == 4  # not the requester
    assert main(["approve", run_id, "--as", "rina.kasi", "-m", "ok", "--step", "2", *seen, *c]) == 5  # stale view
    assert main(["approve", run_id, "--as", "rina.kasi", "-m", "ok", *c]) == 3  # which plan did you review?
    assert main(["approve", run_id, "--as", "rina.kasi", "-m", "ok", "--plan", "ab" * 8, *c]) == 5  # not this one
    assert main(["approve", run_id, "--as", "rina.kasi", "-m", "ok", *seen, *c]) == 0
    assert main(["apply", run_id, "--as", "budi.teknis", *c]) == 0
    assert target.read_text() == "dari shell\n"
    assert main(["approve", run_id, "--as", "sutrisno.kadis", "-m", "BA", *c]) == 0
    assert main(["done", run_id, "--as", "rina.kasi", "-m", "surat", *c]) == 0
    capsys.readouterr()
    assert main(["show", run_id, "--json", *c]) == 0
    shown = _json(capsys)
    assert shown["status"] == "closed" and shown["outcome"] == "completed"
    assert main(["report", "sla", run_id, "--json", *c]) == 0
    assert _json(capsys)["overruns"] == 0
    assert main(["audit", "verify", *c]) == 0


def test_exit_codes_for_bad_input(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config_path)]
    assert main(["request", "test-file-change", "-p", "skpd=dinkes", *c]) == 3  # no --as
    assert main(["request", "test-file-change", "--as", "agus.dinkes", "-p", "skpd=dinkes", *c]) == 3
    err = capsys.readouterr().err
    assert "path: required" in err and "fix:" in err
    assert main(["show", "no-such-run", *c]) == 6
    assert main(["request", "no-such-sop", "--as", "agus.dinkes", *c]) == 6
    assert main(["request", "test-file-change", "--as", "nobody", *c]) == 6


def test_sla_overrun_is_reported(svc: RunService, tmp_path: Path) -> None:
    run_id = svc.request("test-file-change", "agus.dinkes",
                         {"skpd": "dinkes", "path": str(tmp_path / "x"), "content": "a"}).run_id
    state = svc.state(run_id)
    sop = svc.sop(state.sop_id)
    later = state.visits[-1].started + timedelta(minutes=45)  # step 2's standard is 30 menit
    rows = visit_rows(sop, state, now=later)
    open_row = rows[-1]
    assert open_row["number"] == 2 and open_row["over"] and open_row["sla"].startswith("LEWAT")
    assert rows[0]["sla"] == "sesuai"
