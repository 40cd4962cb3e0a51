"""The PDN migration SOP's time standards add up to what the paper's Mutu Baku column says."""

from __future__ import annotations

from pathlib import Path

from sop_runner.core.catalogue.coverage import total_time
from sop_runner.core.catalogue.loader import load_file

REPO = Path(__file__).resolve().parents[2]

# Seed 000 (Tanah Bumbu, PDN migration), Mutu Baku column, computed by hand from the paper:
#   1 pengajuan migrasi              5 Menit
#   2 menyetujui / pertimbangan     10 Menit
#   3 mendaftarkan aplikasi         15 Menit
#   4 mengkonfirmasi SKPD           30 Menit
#   5 backup                        60 Menit
#   6 migrasi                      180 Menit
#   7 testing                       60 Menit
#   8 laporan hasil migrasi         60 Menit
#   5 + 10 + 15 + 30 = 60;  60 + 60 + 180 = 300;  300 + 60 + 60 = 420 minutes (7 hours)
PAPER_MINUTES = [5, 10, 15, 30, 60, 180, 60, 60]
PAPER_TOTAL = 420


def test_pdn_migration_total_matches_the_paper() -> None:
    sop, problems = load_file(REPO / "sops" / "tanah-bumbu" / "pdn-migrasi.yml")
    assert problems == []
    assert sop is not None
    assert [s.time_standard.minutes for s in sop.steps] == PAPER_MINUTES
    total = total_time(sop)
    assert total.minutes == PAPER_TOTAL == sum(PAPER_MINUTES)
    assert (total.unlimited, total.unspecified) == (0, 0)
