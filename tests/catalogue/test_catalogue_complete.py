"""The catalogue holds every procedure of the seeds: 59 + 1 + 1 + 1 + 6 = 68."""

from __future__ import annotations

from pathlib import Path

from sop_runner.core.catalogue.validate import validate_catalogue

ROOT = Path(__file__).resolve().parents[2]


def test_all_68_procedures_load_and_validate() -> None:
    result = validate_catalogue(ROOT / "sops", ROOT)
    assert [str(p) for p in result.problems] == []
    ids = set(result.sops)
    assert {f"wonosobo-{n:02d}" for n in range(1, 60)} <= ids
    assert {"tanbu-pdn-migration", "tanbu-device-config", "kaltim-colocation"} <= ids
    assert {f"tanbu-asset-{n}" for n in range(1, 7)} <= ids
    assert len(ids) == 68


def test_every_technical_step_is_automated_or_says_why_not() -> None:
    result = validate_catalogue(ROOT / "sops", ROOT)
    for sop in result.sops.values():
        for step in sop.steps:
            if step.technical:
                assert step.automation is not None, f"{sop.id} step {step.number}: technical without automation"
                assert step.automation.status == "automated" or step.automation.note, (sop.id, step.number)
