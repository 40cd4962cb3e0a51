"""Compare a catalogue SOP with its paper table, row by row (see test_fidelity_to_seeds.py).

The rules, and why:
- Rows: one step per table row, numbered as on paper. A trailing row that reads only
  "Selesai" (001's flowchart terminator, no Mutu Baku) ends the procedure and is not a step.
  Steps that are not table rows must say so in ``beyond_table`` and come after the last row,
  so every paper row keeps its number.
- Text: the step's text is the row's own text, whitespace normalised, nothing else. Where the
  encoding corrects an OCR slip, the verbatim text stays in ``paper.text`` (compared exactly)
  and the corrected ``text`` must stay within TEXT_SIMILARITY of it, so a correction cannot
  become a rewrite. 0.85: the OCR corrections in the catalogue (a doubled or dropped letter,
  "bandwidh", "Notadinas") score above 0.95, while the least rewording the old catalogue did
  (an actor's name put in front of a short row) scores 0.70-0.84.
- Time (Waktu) exactly, ignoring case and spacing ("5 Menit" = "5 menit"); a dual standard
  kept verbatim in ``paper.time``.
- Output, requirement (Syarat) and remarks (Keterangan): equal once reduced to lower-case letters and digits, so
  "di tanda tangani" = "ditandatangani", "- A - B" = "A; B"; anything else verbatim in
  ``paper``. OCR_FIXES lists the paper readings that are corrected in the comparison itself.
  ``remarks`` holds only the paper's Keterangan; the editors' words go to ``note``.
- An output-only last row (no text, no time) stays so: empty text and time, the paper's
  output, and a ``note`` saying which actor the runner gives it (the paper gives none).
- The Uraian Prosedur list (002 and 003 have one) is kept as printed in ``uraian``: the
  narrative that names who does what, separate from the rows.
- Actors: the swimlane headings and the SOP's actors are the same set (names compared with
  ACTOR_SIMILARITY, for OCR slips such as "Wonorejo"); where the paper kept its ticks (003
  writes the row number into the swimlane) the step's actor is the ticked one.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from seed_tables import PaperRow, PaperTable

from sop_runner.core.catalogue.model import SopDefinition, Step

TEXT_SIMILARITY = 0.85
ACTOR_SIMILARITY = 0.8

# Paper readings that are OCR slips, corrected before comparing outputs and requirements.
OCR_FIXES = {
    "Terditerima": "Tanda terima",
    "Keputudan": "Keputusan",
    "Disosisi": "Disposisi",
    "Permenn": "Permen",
    "perminttan": "permintaan",
    "tandatanganari": "tandatangani",
    "jhari": "hari",
}


@dataclass(frozen=True)
class Mismatch:
    """One difference between the catalogue and the paper."""

    sop: str
    row: int | None
    field: str
    detail: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "table"
        return f"{self.sop} {where} {self.field}: {self.detail}"


def fix_ocr(text: str) -> str:
    """The paper's cell with the listed OCR slips corrected."""
    for wrong, right in OCR_FIXES.items():
        text = text.replace(wrong, right)
    return text


def words(text: str) -> str:
    """The text reduced to lower-case letters and digits (for outputs and requirements)."""
    return re.sub(r"[^a-z0-9]", "", fix_ocr(text).lower())


def norm(text: str) -> str:
    """Whitespace normalised."""
    return " ".join(text.split())


def similarity(a: str, b: str) -> float:
    """difflib's ratio on the case-folded, whitespace-normalised texts."""
    return difflib.SequenceMatcher(None, norm(a).lower(), norm(b).lower()).ratio()


def table_rows(table: PaperTable) -> list[PaperRow]:
    """The rows that are steps (a trailing "Selesai" terminator is not)."""
    rows = list(table.rows)
    if rows and rows[-1].text.lower() == "selesai" and not rows[-1].time:
        rows.pop()
    return rows


def _paper(step: Step, name: str) -> str:
    kept = getattr(step.paper, name) if step.paper is not None else None
    return kept if kept is not None else str(getattr(step, name))


def _row(sop: SopDefinition, row: PaperRow, step: Step) -> list[Mismatch]:
    out: list[Mismatch] = []

    def bad(name: str, detail: str) -> None:
        out.append(Mismatch(sop.id, row.number, name, detail))

    text = _paper(step, "text")
    if norm(text) != row.text:
        bad("text", f"paper {row.text!r}, catalogue {norm(text)!r}")
    elif step.paper is not None and step.paper.text is not None:
        ratio = similarity(step.text, step.paper.text)
        if ratio < TEXT_SIMILARITY:
            bad("text", f"the correction of {step.paper.text!r} to {norm(step.text)!r} is a rewrite "
                f"(similarity {ratio:.2f} < {TEXT_SIMILARITY})")
    time = _paper(step, "time")
    if norm(time).lower() != fix_ocr(row.time).lower():
        bad("time", f"paper {row.time!r}, catalogue {time!r}")
    for name, paper_value in (("output", row.output), ("requires", row.requires), ("remarks", row.remarks)):
        value = _paper(step, name)
        if words(value) != words(paper_value):
            bad(name, f"paper {paper_value!r}, catalogue {value!r}")
    if row.output_only and (step.text or step.time or not step.note):
        bad("text", "an output-only row keeps empty text and time and says in 'note' whom the runner "
            "gives it")
    if row.ticks:
        name = _paper(step, "actor") if step.paper is not None and step.paper.actor else sop.actor(step.actor).name
        if not any(_same_actor(name, tick) for tick in row.ticks):
            bad("actor", f"paper ticks {row.ticks}, catalogue {name!r}")
    return out


def _same_actor(a: str, b: str) -> bool:
    def key(name: str) -> str:
        return re.sub(r"\s+", " ", name.replace("/ ", "/")).strip().lower()

    return difflib.SequenceMatcher(None, key(a), key(b)).ratio() >= ACTOR_SIMILARITY


def compare(sop: SopDefinition, table: PaperTable, uraian: list[str] | None = None) -> list[Mismatch]:
    """Every difference between ``sop`` and its paper ``table`` (and its Uraian list, if given)."""
    rows = table_rows(table)
    out: list[Mismatch] = []
    if uraian is not None:
        mine = [norm(u) for u in sop.uraian]
        if mine != uraian:
            first = next((i for i, (a, b) in enumerate(zip(mine, uraian, strict=False)) if a != b), None)
            where = f"item {first + 1}: paper {uraian[first]!r}" if first is not None else (
                f"{len(uraian)} items on paper, {len(mine)} in the catalogue")
            out.append(Mismatch(sop.id, None, "uraian", where))
    table_steps = [s for s in sop.steps if not s.beyond_table]
    extra = [s for s in sop.steps if s.beyond_table]
    if len(table_steps) != len(rows):
        out.append(Mismatch(sop.id, None, "rows", f"paper has {len(rows)} rows, catalogue {len(table_steps)} "
                            f"steps (besides {len(extra)} marked beyond_table)"))
    if extra and rows and min(s.number for s in extra) <= rows[-1].number:
        out.append(Mismatch(sop.id, None, "rows", "steps marked beyond_table must follow the table's last row"))
    by_number = {s.number: s for s in table_steps}
    for row in rows:
        step = by_number.get(row.number)
        if step is None:
            out.append(Mismatch(sop.id, row.number, "rows", f"no step for the paper's row {row.text!r}"))
            continue
        out += _row(sop, row, step)
    names = [a.name for a in sop.actors]
    for lane in table.actors:
        if not any(_same_actor(lane, name) for name in names):
            out.append(Mismatch(sop.id, None, "actors", f"the paper's swimlane {lane!r} has no actor"))
    # Where the group heading "Pelaksana" swallowed the first lane's own heading, one actor may
    # have no heading left, provided the table's rows name it.
    said = " ".join(r.text for r in rows).lower()
    unnamed = [n for n in names if not any(_same_actor(lane, n) for lane in table.actors)]
    if table.lost_heading and len(unnamed) == 1 and unnamed[0].lower() in said:
        unnamed = []
    for name in unnamed:
        out.append(Mismatch(sop.id, None, "actors", f"actor {name!r} is not a swimlane on paper"))
    return out


def table_for(sop: SopDefinition, tables: dict[str, list[PaperTable]]) -> PaperTable:
    """The paper table an SOP comes from: by 'Nama SOP' number in 002, by order in 004."""
    seed, number = sop.source.document, sop.source.number
    found = tables.get(seed, [])
    if seed == "002":
        matches = [t for t in found if t.sop_number == number]
    elif seed == "004":
        matches = found[int(number) - 1 : int(number)]
    else:
        matches = found[:1]
    if len(matches) != 1:
        msg = f"{sop.id}: no single table for seed {seed} SOP {number} (found {len(matches)})"
        raise LookupError(msg)
    return matches[0]
