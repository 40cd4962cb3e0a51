"""Time standards and flow of Wonosobo SOPs 20, 24 and 32, checked against the paper by hand.

The expected totals were added up by hand from the "Waktu" column of the seed
(/work/shared/seeds/002_f908cc5e79bcd325.txt, "Nama SOP : 20." and "Nama SOP : 24."), not
from the YAML, with 1 hari = 1440 min, 1 jam = 60 min, "n x 24 jam" = n x 1440 min,
1 bulan = 30 hari; blank and "Unlimited" cells are left out.
"""

from __future__ import annotations

from paper_sops import load_sop, total_minutes

from sop_runner.core.catalogue.model import StepKind
from sop_runner.core.run.machine import after

# SOP 20 PEMBUATAN VPS (VIRTUAL PRIVATE SERVER), Waktu column row by row:
#   1  10 menit    =              10   permintaan pembuatan VPS
#   2  10 menit    =              10   evaluasi permohonan dan utilisasi host virtual
#   3  30 menit    =              30   identifikasi dan persetujuan (Staf)
#   4  15 menit    =              15   rekap dan notifikasi penolakan ke user
#   5  10 menit    =              10   tandatangan berita acara
#   6  1 x 24 jam  = 1 x 1440 = 1440   verifikasi dan pembuatan VPS
#   7  (blank: Laporan rekap VPS)
#   total = 10 + 10 + 30 + 15 + 10 + 1440 = 1515 minutes
SOP20_MINUTES = 1515
SOP20_STEPS = 7  # one step per paper row

# SOP 24 UPGRADE OPERATING SYSTEM SERVER, Waktu column row by row:
#   1  30 menit    =              30   reminder upgrade OS
#   2  10 menit    =              10   persetujuan upgrade OS
#   3  1 x 24 jam  = 1 x 1440 = 1440   pemberitahuan kepada user
#   4  180 menit   =             180   upgrade OS dilaksanakan
#   5  1 x 24 jam  = 1 x 1440 = 1440   pengujian hasil upgrade OS
#   6  (blank: Laporan hasil upgrade OS, operasional server dan OS)
#   total = 30 + 10 + 1440 + 180 + 1440 = 3100 minutes
SOP24_MINUTES = 3100
SOP24_STEPS = 6

# SOP 32 PENGHAPUSAN DATABASE: the paper's table has 6 rows and stops after the coordination
# row; Uraian Prosedur 7-9 (delete, Kabid checks the letter, letter sent) are steps 7-9.
SOP32_STEPS = 9  # 6 paper rows, then Uraian Prosedur 7-9 marked beyond_table (the table stops early)


def test_sop20_total_time_matches_hand_sum() -> None:
    sop = load_sop("20-pembuatan-vps.yml")
    assert sop.id == "wonosobo-20"
    assert total_minutes(sop) == SOP20_MINUTES


def test_sop24_total_time_matches_hand_sum() -> None:
    sop = load_sop("24-upgrade-os-server.yml")
    assert sop.id == "wonosobo-24"
    assert len(sop.steps) == SOP24_STEPS
    assert total_minutes(sop) == SOP24_MINUTES


def test_sop20_steps_and_branches() -> None:
    sop = load_sop("20-pembuatan-vps.yml")
    assert [s.number for s in sop.steps] == list(range(1, SOP20_STEPS + 1))
    # Staf approves or refuses (3), and that approval signs the plan of the creation (6): the
    # paper's row 6 holds both the verification and the work, so the gate sits on row 3.
    gate = sop.step(3)
    assert gate.kind is StepKind.APPROVAL and gate.approves_plan_of == 6
    assert gate.branches is not None
    assert (gate.branches.ya, gate.branches.tidak) == (5, 4)
    assert sop.step(4).kind is StepKind.NOTIFY
    assert sop.step(4).next == "end"
    assert sop.step(4).note, "ending the refusal before row 5 is an interpretation and says so"
    create = sop.step(6)
    assert create.kind is StepKind.AUTOMATED and create.technical
    assert create.automation is not None and create.automation.role == "vps"
    assert create.time == "1 x 24 jam"
    # the paths through the runner
    refused = after(sop, sop.step(3), "tidak")
    assert (refused.step, refused.rejects_request) == (4, True)
    assert after(sop, sop.step(4)).step is None
    assert after(sop, sop.step(3), "ya").step == 5
    assert after(sop, sop.step(5)).step == 6
    assert after(sop, sop.step(6)).step == 7


def test_sop32_steps_and_branches() -> None:
    sop = load_sop("32-penghapusan-database.yml")
    assert sop.id == "wonosobo-32"
    assert [s.number for s in sop.steps] == list(range(1, SOP32_STEPS + 1))
    decisions = {s.number: s for s in sop.steps if s.kind in (StepKind.DECISION, StepKind.APPROVAL)}
    assert sorted(decisions) == [3, 5]
    # Kabid decides whether the deletion may go ahead (approving the plan of the drop, 7); no
    # goes to the reply letter (8).
    assert decisions[3].kind is StepKind.APPROVAL and decisions[3].approves_plan_of == 7
    go_ahead = decisions[3].branches
    assert go_ahead is not None
    assert (go_ahead.ya, go_ahead.tidak) == (4, 8)
    # The backup decision comes before anything is deleted: Uraian Prosedur 5 sends "tidak"
    # to the coordination with the SKPD (6) and "ya" straight to the deletion (7).
    backup = decisions[5].branches
    assert backup is not None
    assert (backup.ya, backup.tidak) == (7, 6)
    assert sop.step(6).next is None  # coordination continues with the deletion
    assert after(sop, sop.step(6)).step == 7
    deletion = [s for s in sop.steps if s.technical]
    assert [s.number for s in deletion] == [7]
    assert deletion[0].automation is not None
    assert deletion[0].automation.status == "automated"
    assert deletion[0].automation.vars["db_lifecycle_backup_decision_step"] == 5
    # steps 7-9 are not in the paper's table: no time standard
    assert all(sop.step(n).time_standard.minutes is None for n in (7, 8, 9))
