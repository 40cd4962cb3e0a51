"""A small parser of the SOP tables in the seed texts (/work/shared/seeds/*.txt).

It reads the paper itself, not the catalogue, so that the fidelity test compares the YAML with
an independent reading. The seeds are OCR conversions (see the seeds' INDEX.md); what this
parser relies on, and how it survives the noise:

- A table starts at a header line whose first cell is "No"/"No." and whose second names the
  procedure column ("Uraian Prosedur", "Urutan Prosedur", "Uraian/Prosedur", "Aktivitas"), in
  tab-separated or Markdown-pipe form. The line after it holds the swimlane headings (the
  actors) followed by the Mutu Baku headings.
- A row is a line whose first cell is a number ("7" or "7."). Rows may be separated by blank
  lines (page breaks) and a header may repeat mid-table (003); a row number that does not
  continue the table's numbering starts a new table.
- Columns shift on rows where the OCR dropped empty cells, so the Mutu Baku cells are found
  by content, not position: the time cell is the first cell after the text that reads as a
  time standard ("10 menit", "1 x 24 jam", "3 Hari", "Unlimited"); the requirement is the
  cell before it and the output the cell after it. A row with no time cell (the output-only
  last rows, 003's first row) keeps its non-empty trailing cells as requirement and output.
- Actor ticks survive only where the paper wrote the row number into the swimlane (003);
  elsewhere the swimlane marks are lost, and only the set of swimlanes can be compared.
- Flowchart residue (``<pre> graph TD ...``), HTML tags and a lone "T"/"Y" in a swimlane are
  noise, not content.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"

_TIME = re.compile(
    r"^(\d+\s*(menit|jam|j?hari|minggu|bulan)|\d+\s*x\s*24\s*jam|unlimited|\d+\s*jam.*menit.*)$",
    re.IGNORECASE,
)
_HEADER = re.compile(r"^\|?\s*No\.?\s*[\t|]\s*(Uraian|Urutan|Aktivitas)", re.IGNORECASE)
_ROW = re.compile(r"^\|?\s*(\d+)\.?\s*[\t|]")
_NAMA_SOP = re.compile(r"Nama SOP\s*:\s*\**\s*(\d+)\s*\.")
_PRE = re.compile(r"<pre>.*?</pre>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def clean(text: str) -> str:
    """The cell's words: flowchart residue and HTML tags dropped, whitespace normalised."""
    text = _PRE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text).replace("**", "")
    return " ".join(text.split())


def is_time(cell: str) -> bool:
    """Whether a cell reads as a Waktu standard."""
    return bool(_TIME.match(clean(cell)))


@dataclass
class PaperRow:
    """One row of a paper table."""

    number: int
    text: str
    requires: str
    time: str
    output: str
    remarks: str  # Keterangan: the cells after the output
    ticks: list[str]  # swimlane headings whose cell holds this row's number (003 only)
    line: int  # 1-based line in the seed file

    @property
    def output_only(self) -> bool:
        """A last row with neither text nor time: the procedure's final output."""
        return not self.text and not self.time


@dataclass
class PaperTable:
    """One SOP table of a seed file."""

    seed: str  # the file name's three-digit prefix
    line: int
    actors: list[str]
    rows: list[PaperRow] = field(default_factory=list)
    sop_number: str = ""  # "Nama SOP : N." before it (002 only)
    lost_heading: bool = False  # the "Pelaksana" group heading swallowed the first lane's name


def _cells(line: str) -> list[str]:
    if line.lstrip().startswith("|"):
        return [c.strip() for c in line.strip().strip("|").split("|")]
    return [c.strip() for c in line.split("\t")]


_MUTU = {"syarat", "waktu", "output", "ket", "keterangan", "jeterangan", "persyaratan dan kelengkapan",
         "kelengkapan", "mutu baku", "pelaksana", "aktivitas", "no"}


def _actors(header: list[str], sub: list[str]) -> list[str]:
    """Swimlane headings: the non-Mutu-Baku names of the header and the line after it."""
    names = [clean(c) for c in header[2:] + sub if clean(c)]
    out: list[str] = []
    for name in names:
        low = name.lower()
        if low in _MUTU or low.startswith(("mutu", "syarat", "persyaratan", "waktu", "output", "ket")):
            continue
        if set(low) <= set("-| "):
            continue
        if name not in out:
            out.append(name)
    return out


def _row(cells: list[str], actors: list[str], line: int) -> PaperRow:
    number = int(cells[0].rstrip("."))
    text = clean(cells[1]) if len(cells) > 1 else ""
    rest = cells[2:]
    idx = next((i for i, c in enumerate(rest) if is_time(c)), None)
    ticks = [actors[i] for i, c in enumerate(rest[: len(actors)]) if clean(c) == str(number)]
    if idx is not None:
        requires = clean(rest[idx - 1]) if idx >= 1 else ""
        if requires.upper() in {"Y", "T", "YA", "TIDAK", "B"} or requires.startswith("Box"):
            requires = ""
        time = clean(rest[idx])
        output = clean(rest[idx + 1]) if idx + 1 < len(rest) else ""
        remarks = " ".join(clean(c) for c in rest[idx + 2 :] if clean(c))
    elif len(rest) == len(actors) + 4:
        # A full-width row without a time: the Mutu Baku cells are where the header puts them.
        requires, time, output = clean(rest[len(actors)]), "", clean(rest[len(actors) + 2])
        remarks = " ".join(clean(c) for c in rest[len(actors) + 3 :] if clean(c))
    else:
        filled = [clean(c) for c in rest if clean(c)]
        filled = [c for c in filled if c != str(number) and c.upper() not in {"Y", "T", "B"}]
        time, remarks = "", ""
        requires, output = ("", filled[0]) if len(filled) == 1 else (filled[0], filled[-1]) if filled else ("", "")
    if requires.startswith("Syarat -"):
        requires = requires[len("Syarat ") :]  # the column heading printed into the cell (SOP 8)
    return PaperRow(number, text, requires, time, output, remarks, ticks, line)


def parse_seed(path: Path) -> list[PaperTable]:
    """Every SOP table in one seed file, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    seed = path.name[:3]
    tables: list[PaperTable] = []
    current: PaperTable | None = None
    sop_number = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        nama = _NAMA_SOP.search(line)
        if nama:
            sop_number, current = nama.group(1), None
        if _HEADER.match(line):
            j = i + 1
            while j < len(lines) and lines[j].lstrip().startswith("|-"):
                j += 1  # a Markdown header separator
            nxt = lines[j] if j < len(lines) else ""
            sub = [] if _ROW.match(nxt) else _cells(nxt)
            if current is None or current.sop_number != sop_number or not current.rows:
                head = [clean(c).lower() for c in _cells(line)]
                lost = not sub and "pelaksana" in head
                current = PaperTable(seed, i + 1, _actors(_cells(line), sub), sop_number=sop_number,
                                     lost_heading=lost)
                tables.append(current)
            i = j if _ROW.match(nxt) else j + 1
            continue
        row = _ROW.match(line)
        if current is not None and row:
            cells = _cells(line)
            number = int(row.group(1))
            expected = current.rows[-1].number + 1 if current.rows else 1
            if number == expected:
                current.rows.append(_row(cells, current.actors, i + 1))
            elif current.rows:
                current = None  # another numbered list (a form): the table has ended
        elif (current is not None and current.rows and line.strip() and not line.lstrip().startswith("|--")
              and not line.startswith(("No", " "))):
            current = None  # prose after the rows: the table has ended
        i += 1
    return [t for t in tables if t.rows]


def seed_tables(seeds: Path = SEEDS) -> dict[str, list[PaperTable]]:
    """Seed prefix ('000' .. '004') -> its tables."""
    return {p.name[:3]: parse_seed(p) for p in sorted(seeds.glob("[0-9][0-9][0-9]_*.txt"))}


_ITEM = re.compile(r"^(\d+)\.\s*(.*)$")
_EMPHASIS = re.compile(r"\*(\S[^*]*\S)\*")  # Markdown italics around a term (003)


def _numbered(lines: list[str], start: int) -> list[str]:
    """The numbered list from ``start``: "1. ..." lines, a line without a number continuing the
    item before it, up to the first blank line or heading after the list began."""
    items: list[str] = []
    for line in lines[start:]:
        text = line.strip()
        item = _ITEM.match(text)
        if item and int(item.group(1)) == len(items) + 1:
            items.append(clean(_EMPHASIS.sub(r"\1", item.group(2))))
        elif items and text and not text.isupper() and not text.startswith(("SOP ", "C. ")):
            items[-1] = clean(items[-1] + " " + text)
        elif items and (not text or text.isupper() or text.startswith(("SOP ", "C. "))):
            break
    return items


def seed_uraian(seeds: Path = SEEDS) -> dict[tuple[str, str], list[str]]:
    """(seed prefix, SOP number) -> the numbered "Uraian Prosedur" list, where the paper has one:
    every Wonosobo SOP (002) and the Kaltim procedure (003, section "B. PROSEDUR", number "1")."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(seeds.glob("00[23]_*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        seed, number = path.name[:3], "1"
        for i, line in enumerate(lines):
            nama = _NAMA_SOP.search(line)
            if nama:
                number = nama.group(1)
            if line.strip() in ("URAIAN PROSEDUR", "B. PROSEDUR") and (seed, number) not in out:
                out[(seed, number)] = _numbered(lines, i + 1)
    return out
