"""Time standards of Wonosobo SOPs 1 and 12, checked against totals computed by hand.

The expected totals were added up by hand from the "Waktu" column of the seed
(/work/shared/seeds/002_f908cc5e79bcd325.txt, "Nama SOP : 1." and "Nama SOP : 12."), not
from the YAML, with 1 hari = 1440 min, 1 jam = 60 min, "n x 24 jam" = n x 1440 min,
1 bulan = 30 hari; blank and "Unlimited" cells are left out.
"""

from __future__ import annotations

from paper_sops import load_sop, total_minutes

from sop_runner.core.catalogue.model import StepKind

# SOP 1 PERAWATAN RUTIN DATA CENTER, Waktu column row by row:
#   1  30 menit    =              30
#   2  60 menit    =              60
#   3  60 menit    =              60
#   4  60 menit    =              60
#   5  120 menit   =             120
#   6  30 menit    =              30
#   7  2 x 24 jam  = 2 x 1440 = 2880
#   8  10 menit    =              10
#   9  1 x 24 jam  = 1 x 1440 = 1440
#  10  (blank: Laporan Masalah / Laporan Berkala)
#   total = 30 + 60 + 60 + 60 + 120 + 30 + 2880 + 10 + 1440 = 4690 minutes
SOP01_MINUTES = 4690
SOP01_STEPS = 10

# SOP 12 BACKUP DATA DI DATA CENTER, Waktu column row by row:
#   1  60 menit    =              60
#   2  10 menit    =              10
#   3  30 menit    =              30
#   4  2 x 24 jam  = 2 x 1440 = 2880
#   5  60 menit    =              60
#   6  60 menit    =              60
#   7  (blank: Laporan berkala hasil backup)
#   total = 60 + 10 + 30 + 2880 + 60 + 60 = 3100 minutes
SOP12_MINUTES = 3100
SOP12_STEPS = 7


def test_sop01_total_time_matches_hand_sum() -> None:
    sop = load_sop("01-perawatan-rutin-data-center.yml")
    assert sop.id == "wonosobo-01"
    assert len(sop.steps) == SOP01_STEPS
    assert total_minutes(sop) == SOP01_MINUTES


def test_sop12_total_time_matches_hand_sum() -> None:
    sop = load_sop("12-backup-data.yml")
    assert sop.id == "wonosobo-12"
    assert total_minutes(sop) == SOP12_MINUTES


def test_sop12_steps_and_branches() -> None:
    sop = load_sop("12-backup-data.yml")
    assert [s.number for s in sop.steps] == list(range(1, SOP12_STEPS + 1))
    decisions = [s for s in sop.steps if s.kind is StepKind.DECISION]
    # The only decision is the test restore: usable data goes on to off-site storage of the
    # media (6); unusable data sends the run back to the backup itself (4).
    assert [s.number for s in decisions] == [5]
    branches = decisions[0].branches
    assert branches is not None
    assert (branches.ya, branches.tidak) == (6, 4)
    # the backup job (step 4, with its test restore and off-site copy) is automated; the
    # operator's capacity check (3) is where a second operator approves its plan
    technical = [s.number for s in sop.steps if s.technical]
    assert technical == [1, 2, 4, 5]
    assert sop.step(3).kind is StepKind.APPROVAL and sop.step(3).approves_plan_of == 4
    step4 = sop.step(4).automation
    assert step4 is not None and step4.status == "automated" and step4.role == "backup"
    assert sop.step(7).document == "laporan_berkala"


def test_sop01_branches() -> None:
    sop = load_sop("01-perawatan-rutin-data-center.yml")
    got = {
        s.number: (s.branches.ya, s.branches.tidak)
        for s in sop.steps if s.kind is StepKind.DECISION and s.branches is not None
    }
    # 2: problem found? -> repair (3) / report (10); 4 and 8: solved? -> report (10) /
    # investigate (5) or spare-part procurement (9)
    assert got == {2: (3, 10), 4: (10, 5), 8: (10, 9)}
