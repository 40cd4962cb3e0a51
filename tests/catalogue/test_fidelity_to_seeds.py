"""Every SOP of the catalogue against its table in the seed texts, row by row.

The seeds (/work/shared/seeds, beside the repository) are read by this test's own parser
(seed_tables.py); the rules of the comparison are in fidelity.py. The mutation tests below show
that the comparison fails, naming the SOP, the row and the field, on each kind of drift the
catalogue once had: a dropped row, a split row, a reworded row, another time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fidelity import Mismatch, compare, table_for, table_rows
from seed_tables import SEEDS, PaperTable, seed_tables, seed_uraian

from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.model import SopDefinition

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seed texts are not at {SEEDS}")


@pytest.fixture(scope="module")
def tables() -> dict[str, list[PaperTable]]:
    return seed_tables()


@pytest.fixture(scope="module")
def catalogue() -> dict[str, SopDefinition]:
    result = load_catalogue(REPO / "sops")
    assert not result.problems, [str(p) for p in result.problems]
    return result.sops


def test_the_parser_finds_every_table(tables: dict[str, list[PaperTable]]) -> None:
    # The seeds' INDEX.md: 59 Wonosobo SOPs, one table each in 000, 001 and 003, six in 004.
    assert [len(tables[s]) for s in ("000", "001", "002", "003", "004")] == [1, 1, 59, 1, 6]
    assert [t.sop_number for t in tables["002"]] == [str(n) for n in range(1, 60)]
    sop59 = tables["002"][58]
    # The seed's last line (no final newline) is SOP 59's row 7.
    assert sop59.rows[-1].number == 7 and sop59.rows[-1].text == "Feedback terkait laporan dari pelapor"


def test_every_sop_has_its_table(catalogue: dict[str, SopDefinition],
                                 tables: dict[str, list[PaperTable]]) -> None:
    assert len(catalogue) == 68
    used = {id(table_for(sop, tables)) for sop in catalogue.values()}
    assert len(used) == 68, "two SOPs read the same table"


def test_the_catalogue_is_the_paper(catalogue: dict[str, SopDefinition],
                                    tables: dict[str, list[PaperTable]]) -> None:
    uraian = seed_uraian()
    assert len(uraian) == 60, "59 Wonosobo lists and the Kaltim one"
    problems = [
        m for sop in catalogue.values()
        for m in compare(sop, table_for(sop, tables), uraian.get((sop.source.document, sop.source.number)))
    ]
    assert not problems, "\n".join(str(p) for p in problems)


@pytest.mark.parametrize(("sop_id", "rows"), [("wonosobo-59", 7), ("wonosobo-20", 7), ("wonosobo-21", 7),
                                              ("wonosobo-32", 6)])
def test_the_rows_the_issue_names(catalogue: dict[str, SopDefinition], sop_id: str, rows: int) -> None:
    sop = catalogue[sop_id]
    assert [s.number for s in sop.steps if not s.beyond_table] == list(range(1, rows + 1))


@pytest.mark.parametrize(("sop_id", "row"), [("wonosobo-41", 4), ("wonosobo-43", 4), ("wonosobo-45", 4),
                                             ("wonosobo-51", 3)])
def test_refusal_letters_are_drawn(catalogue: dict[str, SopDefinition], sop_id: str, row: int) -> None:
    # The paper sends a letter on refusal at this row; a refusal must not end the run silently.
    sop = catalogue[sop_id]
    step = sop.step(row)
    assert step.branches is not None and step.branches.tidak == "end"
    letters = [sop.document_def(d) for d in step.produces]
    assert [d.kind.value for d in letters] == ["surat"] and letters[0].template == "surat_jawaban.md.j2"


# Every place where the catalogue holds something other than the printed cell, reviewed: OCR
# slips corrected in the text (printed text under paper.text), a tick the Uraian contradicts,
# a cell shifted into the next column, SOP 58's dual time, and SOP 32's Uraian steps after a
# table that stops early. A new deviation must be added here on purpose.
KNOWN_DEVIATIONS = {
    ("kaltim-colocation", 2, "paper.actor"),
    ("kaltim-colocation", 3, "paper.text"),
    ("tanbu-pdn-migration", 5, "paper.text"),
    ("wonosobo-04", 2, "paper.output"),
    ("wonosobo-04", 2, "paper.remarks"),
    ("wonosobo-12", 5, "paper.text"),
    ("wonosobo-27", 4, "paper.text"),
    ("wonosobo-31", 6, "paper.text"),
    ("wonosobo-31", 7, "paper.text"),
    ("wonosobo-32", 7, "beyond_table"),
    ("wonosobo-32", 8, "beyond_table"),
    ("wonosobo-32", 9, "beyond_table"),
    ("wonosobo-34", 3, "paper.text"),
    ("wonosobo-35", 3, "paper.text"),
    ("wonosobo-36", 3, "paper.text"),
    ("wonosobo-41", 4, "paper.text"),
    ("wonosobo-41", 5, "paper.text"),
    ("wonosobo-46", 2, "paper.text"),
    ("wonosobo-49", 2, "paper.text"),
    ("wonosobo-51", 5, "paper.text"),
    ("wonosobo-54", 2, "paper.text"),
    ("wonosobo-55", 4, "paper.text"),
    ("wonosobo-56", 4, "paper.text"),
    ("wonosobo-57", 4, "paper.text"),
    ("wonosobo-58", 4, "paper.time"),
    ("wonosobo-59", 3, "paper.text"),
}


def test_deviations_are_the_known_ones(catalogue: dict[str, SopDefinition]) -> None:
    found = set()
    for sop in catalogue.values():
        for step in sop.steps:
            if step.beyond_table:
                found.add((sop.id, step.number, "beyond_table"))
            if step.paper is not None:
                found |= {(sop.id, step.number, f"paper.{k}") for k in step.paper.model_dump(exclude_none=True)}
    assert found == KNOWN_DEVIATIONS, {"new": sorted(found - KNOWN_DEVIATIONS), "gone": sorted(KNOWN_DEVIATIONS - found)}


# -- the comparison fails on drift ------------------------------------------------------------

SOP03 = REPO / "sops" / "wonosobo" / "03-permintaan-hak-akses-data-center.yml"


def _mutated(change: dict[str, object] | None = None, drop: int | None = None,
             split: int | None = None) -> SopDefinition:
    """SOP 03 from a changed copy of its YAML (the file itself is not touched)."""
    data = yaml.safe_load(SOP03.read_text(encoding="utf-8"))
    steps = data["steps"]
    if drop is not None:
        steps[:] = [s for s in steps if s["number"] != drop]
    if split is not None:
        at = next(i for i, s in enumerate(steps) if s["number"] == split)
        steps.insert(at + 1, {**steps[at], "text": "bagian kedua"})
        for i, step in enumerate(steps, start=1):
            step["number"] = i
    for key, value in (change or {}).items():
        number, field = key.split(".")
        next(s for s in steps if s["number"] == int(number))[field] = value
    return SopDefinition.model_validate(data)


def _fields(sop: SopDefinition, tables: dict[str, list[PaperTable]]) -> set[tuple[int | None, str]]:
    found: list[Mismatch] = compare(sop, table_for(sop, tables))
    assert all(m.sop == "wonosobo-03" for m in found)
    return {(m.row, m.field) for m in found}


def test_unchanged_copy_matches(tables: dict[str, list[PaperTable]]) -> None:
    assert _fields(_mutated(), tables) == set()


def test_a_dropped_row_is_named(tables: dict[str, list[PaperTable]]) -> None:
    found = _fields(_mutated(drop=7), tables)
    assert (None, "rows") in found and (7, "rows") in found


def test_a_split_row_is_named(tables: dict[str, list[PaperTable]]) -> None:
    found = _fields(_mutated(split=5), tables)
    assert (None, "rows") in found
    assert (6, "text") in found, "every later row is off by one from the paper"


def test_a_reworded_row_is_named(tables: dict[str, list[PaperTable]]) -> None:
    uraian = "Staf merekap keputusan dan memberi notifikasi ke user"  # the Uraian's wording
    assert _fields(_mutated({"4.text": uraian}), tables) == {(4, "text")}


def test_a_correction_that_rewrites_is_named(tables: dict[str, list[PaperTable]]) -> None:
    row = "Merekap dan memberi notifikasi ke user"
    fixed = _mutated({"4.paper": {"text": row}, "4.note": "OCR", "4.text": "Merekap dan memberi notifikasi ke user"})
    assert _fields(fixed, tables) == set()
    rewrite = _mutated({"4.paper": {"text": row}, "4.note": "OCR",
                        "4.text": "Staf merekap keputusan dan memberi notifikasi ke user"})
    assert _fields(rewrite, tables) == {(4, "text")}


def test_another_time_or_output_is_named(tables: dict[str, list[PaperTable]]) -> None:
    assert _fields(_mutated({"3.time": "60 menit"}), tables) == {(3, "time")}
    assert _fields(_mutated({"6.output": "Laporan migrasi"}), tables) == {(6, "output")}


def test_an_editors_remark_in_keterangan_is_named(tables: dict[str, list[PaperTable]]) -> None:
    printed = "Surat ditujukan ke Kepala Dinas dan telah didisposisikan ke Operator Data Center"
    mixed = printed + ". The runner completes this row when the request is created."
    assert _fields(_mutated({"1.remarks": mixed}), tables) == {(1, "remarks")}


def test_a_reworded_uraian_is_named(tables: dict[str, list[PaperTable]]) -> None:
    sop = _mutated()
    printed = seed_uraian()[("002", "3")]
    assert compare(sop, table_for(sop, tables), printed) == []
    paraphrase = _mutated({"1.text": sop.step(1).text})
    data = paraphrase.model_dump()
    data["uraian"] = [*printed[:-1], "Operator DC melaporkan."]
    found = compare(SopDefinition.model_validate(data), table_for(sop, tables), printed)
    assert [(m.row, m.field) for m in found] == [(None, "uraian")] and "item 7" in found[0].detail


def test_an_invented_last_row_is_named(tables: dict[str, list[PaperTable]]) -> None:
    # Row 7 of SOP 03 is output-only on paper: text, actor and time are not the paper's to give.
    table = table_for(_mutated(), tables)
    assert table_rows(table)[-1].output_only
    invented = _mutated({"7.text": "Operator Data Center membuat Laporan Rekap"})
    assert (7, "text") in _fields(invented, tables)
