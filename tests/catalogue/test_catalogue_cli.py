"""`sop catalogue list|show|coverage|validate` on the real catalogue.

Other engineers add definitions in parallel, so nothing here depends on how many exist: counts
are compared with what the loader finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sop_runner.cli.main import main
from sop_runner.core.catalogue.loader import definition_files, load_catalogue
from sop_runner.core.catalogue.model import SopDefinition

REPO = Path(__file__).resolve().parents[2]
SOPS = REPO / "sops"


@pytest.fixture(scope="module")
def catalogue() -> dict[str, SopDefinition]:
    result = load_catalogue(SOPS)
    assert result.problems == [], "\n".join(map(str, result.problems))
    return result.sops


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def squash(text: str) -> str:
    return " ".join(text.split())


def test_validate_real_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalogue", "validate")
    assert out.strip().splitlines()[-1] == f"{len(definition_files(SOPS))} definitions, 0 problems", out
    assert code == 0


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "catalogue", "validate")
    report = json.loads(out)
    assert report["definitions"] == len(definition_files(SOPS))
    assert (code == 0) == (report["problems"] == [])


def test_list_shows_every_sop(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "catalogue", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "GROUP", "TITLE", "STEPS", "TECHNICAL", "AUTOMATED"]
    assert {line.split()[0] for line in lines[1:]} == set(catalogue)


def test_list_json(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "--json", "catalogue", "list")
    assert code == 0
    rows = json.loads(out)
    assert {r["id"] for r in rows} == set(catalogue)
    row = next(r for r in rows if r["id"] == "wonosobo-57")
    assert row["group"] == "network"
    assert row["steps"] == len(catalogue["wonosobo-57"].steps)
    assert set(row) == {"id", "group", "title", "steps", "technical", "automated"}


def test_list_group_filter(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "--json", "catalogue", "list", "--group", "assets")
    assert code == 0
    rows = json.loads(out)
    assert {r["id"] for r in rows} == {i for i, s in catalogue.items() if s.group == "assets"}


def test_show_wonosobo_57(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "catalogue", "show", "wonosobo-57")
    assert code == 0
    sop = catalogue["wonosobo-57"]
    assert f"| Nama SOP | {sop.title} |" in out
    for column in ("Mutu Baku: Syarat/Kelengkapan", "Mutu Baku: Waktu", "Mutu Baku: Output", "Keterangan"):
        assert column in out
    table = [line for line in out.splitlines() if line.startswith("| ") and "|---" not in line]
    header = next(line for line in table if line.startswith("| No | Uraian Prosedur |"))
    width = header.count(" | ")
    rows = table[table.index(header) + 1:table.index(header) + 1 + len(sop.steps)]
    for step, row in zip(sop.steps, rows, strict=True):
        assert row.startswith(f"| {step.number} | {squash(step.text)} |")
        assert row.count(" | ") == width, "a cell broke the table"
        assert squash(step.time) in row
    assert "Y→4; T→6" in out  # step 3 is the decision
    assert "◇" in out
    assert "playbook `playbooks/sop57_public_ip.yml`" in out
    assert "Total waktu (Mutu Baku):" in out


def test_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalogue", "show", "tanbu-pdn-migration", "--format", "text")
    assert code == 0
    assert "Total waktu (Mutu Baku): 420 menit (7 jam)" in out


def test_show_json(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "--json", "catalogue", "show", "kaltim-colocation")
    assert code == 0
    assert SopDefinition.model_validate(json.loads(out)) == catalogue["kaltim-colocation"]


def test_show_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "catalogue", "show", "wonosobo-577")
    assert code == 6
    assert "no SOP with id 'wonosobo-577'" in err
    assert "fix:" in err


def test_coverage(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "catalogue", "coverage")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["GROUP", "PROCEDURES", "TECHNICAL", "AUTOMATED", "COVERAGE"]
    assert lines[-1].split()[:2] == ["total", str(len(catalogue))]


def test_coverage_json(capsys: pytest.CaptureFixture[str], catalogue: dict[str, SopDefinition]) -> None:
    code, out, _ = run(capsys, "--json", "catalogue", "coverage")
    assert code == 0
    report = json.loads(out)
    total = report["total"]
    assert total["procedures"] == len(catalogue) == sum(g["procedures"] for g in report["groups"])
    assert total["automated_steps"] <= total["technical_steps"]
    assert {g["group"] for g in report["groups"]} == {s.group.value for s in catalogue.values()}


def test_missing_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "catalogue", "list", "--dir", str(tmp_path / "nope"))
    assert code == 6
    assert "does not exist" in err
