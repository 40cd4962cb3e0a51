"""Render a document of a run to Markdown, HTML and PDF.

The Markdown is the record (it is what is hashed into the audit log); HTML and PDF are made
from it for reading and printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sop_runner.core.canonical import sha256_hex

TEMPLATES = Path(__file__).parent / "templates"

_BULAN = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]
_HARI = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]


def tanggal(value: Any) -> str:
    """A date the Indonesian way: '24 November 2026'."""
    from datetime import datetime

    dt = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return f"{dt.day} {_BULAN[dt.month - 1]} {dt.year}"


def hari(value: Any) -> str:
    """The weekday name in Bahasa Indonesia."""
    from datetime import datetime

    dt = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return _HARI[dt.weekday()]


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if value is None or value == "":
        return "-"
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {_flat(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value)
    return str(value)


def cell(value: Any) -> str:
    """A value fit for a Markdown table cell: one line, pipes escaped, booleans in Indonesian."""
    return _flat(value).replace("|", "\\|").replace("\n", " ")


# Result keys the roles publish (set_stats ``sop_plan``/``sop_result``), named for the reader.
LABELS = {
    "address": "Alamat IP",
    "pool": "Blok alamat (pool)",
    "free_before": "Sisa alamat sebelum",
    "free_after": "Sisa alamat sesudah",
    "interface": "Antarmuka",
    "server": "Server",
    "tenant": "SKPD",
    "host_capacity": "Kapasitas host",
    "host": "Host",
    "limit": "Batas",
    "before": "Sebelum",
    "after": "Sesudah",
    "vcpus": "vCPU",
    "memory_mb": "Memori (MB)",
    "disk_gb": "Disk (GB)",
    "answer_file": "Berkas jawaban instalasi",
    "answer_sha256": "Sidik berkas jawaban (SHA-256)",
    "device": "Perangkat",
    "serial": "Nomor seri",
    "gateway": "Gateway",
    "prefix": "Prefiks",
    "database": "Basis data",
    "databases": "Basis data",
    "engine": "Mesin basis data",
    "from_version": "Versi awal",
    "to_version": "Versi tujuan",
    "versions": "Versi",
    "package": "Paket",
    "action": "Tindakan",
    "actions": "Tindakan",
    "status_after": "Status sesudah",
    "items": "Rincian",
    "name": "Nama",
    "position": "Posisi (U)",
    "rack": "Rak",
    "inside": "Alamat dalam (NAT)",
    "device_type": "Tipe perangkat",
    "face": "Sisi pemasangan",
    "site": "Lokasi (site)",
    "status": "Status",
    "state": "Keadaan",
    "checks": "Pemeriksaan",
    "journal": "Catatan jurnal",
    "u_height": "Tinggi (U)",
    "rack_units": "Jumlah U",
    "power_budget_w": "Anggaran daya (W)",
    "power_feed": "Feed daya",
    "feed_voltage": "Tegangan feed (V)",
    "feed_amperage": "Arus feed (A)",
    "feed_max_utilization": "Utilisasi maksimum feed (%)",
}


def label(key: Any) -> str:
    """The Indonesian name of a result key, or the key itself."""
    return LABELS.get(str(key), str(key))


def uraian(value: Any, name: Any, depth: int = 0) -> str:
    """A result as Markdown bullets: a scalar on one line, mappings and lists of them nested.

    Without this a nested result (a host's capacity, a list of handover rows) printed as a
    Python dict in the Berita Acara.
    """
    pad = "    " * depth  # Python-Markdown nests a list at four spaces
    head = f"{pad}- {label(name)}"
    if isinstance(value, dict) and value:
        return "\n".join([f"{head}:", *(uraian(v, k, depth + 1) for k, v in value.items())])
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "\n".join([f"{head}:", *(uraian(v, i, depth + 1) for i, v in enumerate(value, 1))])
    return f"{head}: **{cell(value)}**"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tanggal"] = tanggal
    env.filters["hari"] = hari
    env.filters["cell"] = cell
    env.filters["uraian"] = uraian
    env.filters["label"] = label
    return env


_CSS = """
body { font-family: 'DejaVu Serif', serif; font-size: 11pt; margin: 2cm; line-height: 1.4; }
h1, h2 { text-align: center; margin: 0.3em 0; }
h3 { margin: 0.8em 0 0.3em; }
.kop { text-align: center; line-height: 1.3; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; font-size: 9.5pt; }
th, td { border: 1px solid #444; padding: 3px 5px; vertical-align: top; }
pre { font-size: 8pt; white-space: pre-wrap; border: 1px solid #aaa; padding: 4px; }
code { font-size: 9pt; }
"""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered document and where its files are."""

    markdown: str
    sha256: str
    files: dict[str, str]


def render_document(template: str, context: dict[str, Any], out_dir: Path, stem: str, *, pdf: bool = True) -> Rendered:
    """Render ``template`` with ``context`` into ``out_dir/stem.{md,html,pdf}``."""
    md_text = _env().get_template(template).render(**context)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(md_text, encoding="utf-8")
    files["md"] = str(md_path)
    body = markdown.markdown(md_text, extensions=["tables", "fenced_code"])
    head = f"<meta charset='utf-8'><title>{stem}</title><style>{_CSS}</style>"
    html = f"<!doctype html><html lang='id'><head>{head}</head><body>{body}</body></html>"
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    files["html"] = str(html_path)
    if pdf:
        from weasyprint import HTML

        pdf_path = out_dir / f"{stem}.pdf"
        HTML(string=html).write_pdf(str(pdf_path))
        files["pdf"] = str(pdf_path)
    return Rendered(markdown=md_text, sha256=sha256_hex(md_text), files=files)
