"""Loading a seed SOP's YAML for the tests that compare it with the paper by hand."""

from __future__ import annotations

from pathlib import Path

from sop_runner.core.catalogue.coverage import total_time
from sop_runner.core.catalogue.loader import load_file
from sop_runner.core.catalogue.model import SopDefinition

SOPS = Path(__file__).resolve().parents[2] / "sops"


def load_sop(name: str, source: str = "wonosobo") -> SopDefinition:
    """The SOP in ``sops/<source>/<name>``; fails the test on any validation problem."""
    sop, problems = load_file(SOPS / source / name)
    assert not problems, [str(p) for p in problems]
    assert sop is not None
    return sop


def total_minutes(sop: SopDefinition) -> float:
    """The sum of the bounded Waktu cells (blank and "Unlimited" are left out)."""
    return total_time(sop).minutes
