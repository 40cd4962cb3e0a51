"""Every kind of problem the catalogue validator knows names the right file, field and reason.

Each test writes one malformed definition (a valid base with a single change) into a throw-away
catalogue, with its own roles.yml, playbook and role argument_specs, and validates it.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sop_runner.cli.main import main
from sop_runner.core.catalogue.loader import Problem
from sop_runner.core.catalogue.validate import validate_catalogue

REPO = Path(__file__).resolve().parents[2]
FILE = "net/bad.yml"

BASE: dict[str, Any] = {
    "id": "test-sop",
    "title": "PROSEDUR UJI",
    "title_en": "Test procedure",
    "group": "network",
    "source": {"document": "999", "title": "Uji", "number": "1", "issuer": "Dinas Uji"},
    "legal_basis": ["Peraturan Uji"],
    "actors": [
        {"id": "pemohon", "name": "Pemohon", "role": "requester"},
        {"id": "kabid", "name": "Kepala Bidang", "role": "kabid"},
        {"id": "staf", "name": "Staf teknis", "role": "staf_teknis"},
    ],
    "parameters": [{"name": "target", "type": "string", "label": "Target"}],
    "steps": [
        {"number": 1, "text": "Pemohon mengajukan", "actor": "pemohon", "kind": "manual",
         "time": "10 menit"},
        {"number": 2, "text": "Kabid memutuskan", "actor": "kabid", "kind": "decision",
         "time": "1 x 24 jam", "branches": {"ya": 3, "tidak": 5}},
        {"number": 3, "text": "Kabid menyetujui rencana", "actor": "kabid", "kind": "approval",
         "approves_plan_of": 4},
        {"number": 4, "text": "Staf menjalankan", "actor": "staf", "kind": "automated",
         "technical": True,
         "automation": {"playbook": "playbooks/demo.yml", "role": "demo_role",
                        "vars": {"demo_role_target": "{{ params.target }}"}}},
        {"number": 5, "text": "Kabid menyiapkan surat", "actor": "kabid", "kind": "document",
         "document": "surat"},
    ],
    "documents": [{"id": "surat", "kind": "surat", "title": "Surat Jawaban",
                   "template": "surat_jawaban.md.j2", "signers": ["kabid"]}],
}

ARGUMENT_SPECS = {
    "argument_specs": {"main": {"options": {
        "demo_role_target": {"type": "str", "required": True},
        "demo_role_note": {"type": "str"},
    }}},
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository root with sops/roles.yml, one playbook and one role's argument_specs."""
    (tmp_path / "sops" / "net").mkdir(parents=True)
    shutil.copy(REPO / "sops" / "roles.yml", tmp_path / "sops" / "roles.yml")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "demo.yml").write_text("- hosts: all\n  roles: [demo_role]\n")
    meta = tmp_path / "roles" / "demo_role" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(yaml.safe_dump(ARGUMENT_SPECS))
    return tmp_path


def problems_of(root: Path, definition: dict[str, Any], name: str = FILE) -> list[Problem]:
    (root / "sops" / name).write_text(yaml.safe_dump(definition, allow_unicode=True))
    return validate_catalogue(root / "sops", root).problems


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def assert_problem(problems: list[Problem], field_parts: tuple[str, ...], reason: str) -> None:
    """One problem in FILE whose field contains every part (in order) and whose reason matches."""
    for p in problems:
        if p.file != FILE or reason not in p.reason:
            continue
        pos = 0
        for part in field_parts:
            pos = p.field.find(part, pos)
            if pos < 0:
                break
            pos += len(part)
        else:
            return
    shown = "\n".join(str(p) for p in problems) or "(none)"
    pytest.fail(f"no problem with field {field_parts} and reason {reason!r}; got:\n{shown}")


def test_base_definition_is_valid(root: Path) -> None:
    assert problems_of(root, base()) == []


def test_unknown_field(root: Path) -> None:
    d = base()
    d["steps"][0]["colour"] = "red"
    assert_problem(problems_of(root, d), ("steps[0]", "colour"), "unknown field")


def test_missing_required_field(root: Path) -> None:
    d = base()
    del d["title_en"]
    assert_problem(problems_of(root, d), ("title_en",), "required field is missing")


def test_unparsable_time(root: Path) -> None:
    d = base()
    d["steps"][1]["time"] = "secepatnya"
    assert_problem(problems_of(root, d), ("steps[1]", "time"), "cannot read time standard 'secepatnya'")


def test_unknown_actor(root: Path) -> None:
    d = base()
    d["steps"][0]["actor"] = "hantu"
    assert_problem(problems_of(root, d), ("steps[0]", "actor"), "unknown actor 'hantu'")


def test_branch_target_missing(root: Path) -> None:
    d = base()
    d["steps"][1]["branches"]["tidak"] = 99
    assert_problem(problems_of(root, d), ("steps[1]", "branches.tidak"), "step 99 does not exist")


def test_decision_without_branches(root: Path) -> None:
    d = base()
    del d["steps"][1]["branches"]
    assert_problem(problems_of(root, d), ("steps[1]",), "a decision step needs 'branches'")


def test_next_target_missing(root: Path) -> None:
    d = base()
    d["steps"][0]["next"] = 42
    assert_problem(problems_of(root, d), ("steps[0]", "next"), "step 42 does not exist")


def test_unknown_document(root: Path) -> None:
    d = base()
    d["steps"][4]["document"] = "surat_hilang"
    assert_problem(problems_of(root, d), ("steps[4]", "document"), "unknown document 'surat_hilang'")


def test_automated_step_without_playbook(root: Path) -> None:
    d = base()
    del d["steps"][3]["automation"]["playbook"]
    assert_problem(problems_of(root, d), ("steps[3]", "automation"), "needs 'playbook'")


def test_playbook_does_not_exist(root: Path) -> None:
    d = base()
    d["steps"][3]["automation"]["playbook"] = "playbooks/missing.yml"
    assert_problem(
        problems_of(root, d), ("steps[3]", "automation.playbook"), "playbooks/missing.yml does not exist",
    )


def test_var_not_in_argument_specs(root: Path) -> None:
    d = base()
    d["steps"][3]["automation"]["vars"]["demo_role_colour"] = "red"
    assert_problem(
        problems_of(root, d), ("steps[3]", "automation.vars.demo_role_colour"),
        "role demo_role has no option 'demo_role_colour'",
    )


def test_required_role_option_not_mapped(root: Path) -> None:
    d = base()
    d["steps"][3]["automation"]["vars"] = {"demo_role_note": "x"}
    assert_problem(
        problems_of(root, d), ("steps[3]", "automation.vars"), "requires 'demo_role_target'",
    )


def test_unknown_runner_role(root: Path) -> None:
    d = base()
    d["actors"][1]["role"] = "penyihir"
    assert_problem(problems_of(root, d), ("actors[1]", "role"), "unknown role 'penyihir'")


def test_duplicate_id(root: Path) -> None:
    (root / "sops" / "net" / "a-first.yml").write_text(yaml.safe_dump(base()))
    # bad.yml sorts after a-first.yml, so it is the one reported as the duplicate.
    assert_problem(problems_of(root, base()), ("id",), "'test-sop' is already used by net/a-first.yml")


def test_approves_plan_of_non_automated_step(root: Path) -> None:
    d = base()
    d["steps"][2]["approves_plan_of"] = 5
    assert_problem(
        problems_of(root, d), ("steps[2]", "approves_plan_of"), "step 5 is not an automated step",
    )


def test_branch_that_jumps_over_the_plan_approval(root: Path) -> None:
    d = base()
    d["steps"][1]["branches"] = {"ya": 4, "tidak": 5}  # past the approval (step 3) to the change
    assert_problem(problems_of(root, d), ("steps[3]",), "reachable without passing the plan approval of step 3")


def test_automated_step_without_plan_approval(root: Path) -> None:
    d = base()
    del d["steps"][2]["approves_plan_of"]
    assert_problem(problems_of(root, d), ("steps[3]",), "no approval step binds this step's plan")


def test_cli_validate_reports_file_and_field(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = base()
    d["steps"][0]["actor"] = "hantu"
    (root / "sops" / FILE).write_text(yaml.safe_dump(d))
    code = main(["catalogue", "validate", "--dir", str(root / "sops")])
    out = capsys.readouterr().out
    assert code == 3
    line = next(line for line in out.splitlines() if line.startswith(f"{FILE}: "))
    assert ".actor: unknown actor 'hantu'" in line
    # The definition loads; only its cross-references are wrong.
    assert out.rstrip().endswith("1 definitions, 1 problems")


def test_cli_validate_clean_catalogue(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "sops" / FILE).write_text(yaml.safe_dump(base()))
    assert main(["catalogue", "validate", "--dir", str(root / "sops")]) == 0
    assert capsys.readouterr().out.strip() == "1 definitions, 0 problems"
