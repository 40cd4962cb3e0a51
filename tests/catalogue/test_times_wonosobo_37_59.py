"""Time standards of Wonosobo SOPs 56 and 59, checked against totals computed by hand.

The expected totals were added up by hand from the "Waktu Penyelesaian" column of the seed
(/work/shared/seeds/002_f908cc5e79bcd325.txt, "Nama SOP : 56." and "Nama SOP : 59."), not
from the YAML, with 1 hari = 1440 min, 1 jam = 60 min, "1 x 24 jam" = 1440 min,
1 bulan = 30 hari; blank and "Unlimited" cells are left out.
"""

from __future__ import annotations

import pytest
from paper_sops import load_sop, total_minutes

from sop_runner.core.catalogue.model import StepKind

# SOP 56 PERMOHONAN PENGGANTIAN ROUTER, Waktu column row by row:
#   1  3 hari    = 3 x 1440 = 4320
#   2  30 menit  =            30
#   3  30 menit  =            30
#   4  30 menit  =            30
#   5  5 jam     = 5 x 60   = 300
#   6  30 menit  =            30
#   7  30 menit  =            30
#   8  1 jam     =            60
#   total = 4320 + 30 + 30 + 30 + 300 + 30 + 30 + 60 = 4830 minutes
SOP56_MINUTES = 4830

# SOP 59 PENANGANAN SERANGAN SIBER TERHADAP DEMILITARY ZONE (DMZ) JARINGAN, Waktu column
# (the table has six rows; Uraian item 7, feedback by e-mail, has no row and no time):
#   1  3 hari    = 3 x 1440 = 4320
#   2  30 menit  =            30
#   3  30 menit  =            30
#   4  30 menit  =            30
#   5  30 menit  =            30
#   6  30 menit  =            30
#   total = 4320 + 5 x 30 = 4470 minutes
SOP59_MINUTES = 4470


@pytest.mark.parametrize(
    ("name", "sop_id", "expected"),
    [
        ("56-permohonan-penggantian-router.yml", "wonosobo-56", SOP56_MINUTES),
        ("59-penanganan-serangan-siber-dmz.yml", "wonosobo-59", SOP59_MINUTES),
    ],
)
def test_time_total_matches_hand_sum(name: str, sop_id: str, expected: int) -> None:
    sop = load_sop(name)
    assert sop.id == sop_id
    assert total_minutes(sop) == expected


def test_sop56_steps_and_branches() -> None:
    sop = load_sop("56-permohonan-penggantian-router.yml")
    assert [s.number for s in sop.steps] == list(range(1, 9))

    decision = sop.step(3)
    assert decision.kind is StepKind.DECISION
    assert decision.branches is not None
    assert (decision.branches.ya, decision.branches.tidak) == (4, 6)

    # Kasi's plan sign-off and Kabid's check of the draft both send a rejection back to the
    # drafting of the reply letter (step 6).
    for number in (4, 7):
        step = sop.step(number)
        assert step.kind is StepKind.APPROVAL
        assert step.branches is not None
        assert step.branches.tidak == 6

    branching = {s.number for s in sop.steps if s.branches is not None}
    assert branching == {3, 4, 7}

    technical = [s.number for s in sop.steps if s.technical]
    assert technical == [5]
    # Step 5 runs the router_replace role; Kasi's step 4 signs its plan.
    automation = sop.step(5).automation
    assert automation is not None
    assert automation.status == "automated" and automation.role == "router_replace"
    assert sop.step(4).approves_plan_of == 5


def test_sop59_is_the_urgent_path() -> None:
    sop = load_sop("59-penanganan-serangan-siber-dmz.yml")
    assert len(sop.steps) == 7  # the last row: feedback to the reporter
    assert sop.urgent_path is True
    assert sop.urgent_approval_deadline == "1 x 24 jam"
