"""Render a document of a run to Markdown, HTML and PDF.

The Markdown is the record (it is what is hashed into the audit log); HTML and PDF are made
from it for reading and printing. Nothing a value holds becomes markup or a fetch: every
template value is escaped (``escape_value``), the Markdown converter reads raw HTML as text
and drops unsafe links (``safe_markdown``), and the PDF renderer reads only the paperwork's
own assets and embeds no file (``pdf``).
"""

from __future__ import annotations

import hashlib
import html
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sop_runner.adapters.paperwork import waktu
from sop_runner.adapters.paperwork.pdfsign import PdfSigner
from sop_runner.adapters.paperwork.safe_markdown import to_html
from sop_runner.adapters.paperwork.waktu import as_datetime
from sop_runner.core.canonical import sha256_hex

TEMPLATES = Path(__file__).parent / "templates"
_CSS = TEMPLATES / "assets" / "paperwork.css"
# The site's zone while one document renders (the Jinja filters read it).
_ZONE: ContextVar[str] = ContextVar("paperwork_zone", default="Asia/Jakarta")


def tanggal(value: Any) -> str:
    """A date the Indonesian way: '24 November 2026' (a time is read in the render's zone)."""
    dt = as_datetime(value)
    return waktu.tanggal(dt.astimezone(ZoneInfo(_ZONE.get()))) if dt else str(value)


def hari(value: Any) -> str:
    """The weekday name in Bahasa Indonesia."""
    dt = as_datetime(value)
    return waktu.hari(dt.astimezone(ZoneInfo(_ZONE.get()))) if dt else str(value)


def jam(value: Any) -> str:
    """'15:47 WIB': the time in the site's zone, named."""
    dt = as_datetime(value)
    zone = _ZONE.get()
    return waktu.jam(dt.astimezone(ZoneInfo(zone)), zone) if dt else str(value)


def saat(value: Any) -> str:
    """'4 Desember 2026 15:47 WIB', or the value as written when it is not a time ("-")."""
    dt = as_datetime(value)
    return f"{tanggal(dt)} {jam(dt)}" if dt else str(value)


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


def escape_value(value: Any) -> str:
    """Every ``{{ … }}`` of a template passes here (Jinja's ``finalize``).

    A value from a person or from NetBox may hold ``<script>`` or ``<link rel=attachment>``;
    escaped, it is text in the Markdown record and in everything made from it. Only ``<`` and
    ``>`` are escaped: without them no tag can start, an ``&`` can at most spell an entity that
    renders as text, and the record keeps reading "Type & Merk" as people and tests expect.
    Quotes are harmless outside HTML attributes. Inside code blocks too (``safe_markdown``
    reads the entities back there), so the record holds no raw HTML from a value anywhere.
    """
    return str(value).replace("<", "&lt;").replace(">", "&gt;")


def fenced(value: Any, lang: str = "") -> str:
    """``value`` as a fenced code block whose fence no line of the value can close.

    A diff holding a line of three backticks would otherwise end the block, and the rest of
    the diff would be read as Markdown (headings, tables) in an official document.
    """
    text = str(value).rstrip("\n")
    runs = re.findall(r"^[ \t]*(`{3,}|~{3,})", text, flags=re.MULTILINE)
    fence = "`" * max([3, *(len(r) + 1 for r in runs)])
    return f"{fence}{lang}\n{text}\n{fence}"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        # The output is Markdown, not HTML: escape_value escapes every value for it instead.
        autoescape=False,  # noqa: S701
        finalize=escape_value,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tanggal"] = tanggal
    env.filters["hari"] = hari
    env.filters["jam"] = jam
    env.filters["saat"] = saat
    env.filters["cell"] = cell
    env.filters["uraian"] = uraian
    env.filters["label"] = label
    env.filters["fenced"] = fenced
    # Markdown's hard line break is two trailing spaces; spelled out so no editor strips it.
    env.globals["hard_break"] = "  "
    return env


def _check_audit_head(context: dict[str, Any]) -> None:
    head = context.get("audit_head")
    if head is None:
        return
    seq = head.get("seq") if isinstance(head, dict) else None
    digest = head.get("hash") if isinstance(head, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        msg = f"audit_head.seq must be the chain head's sequence number (an integer >= 0), got {seq!r}"
        raise ValueError(msg)
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{16,128}", digest):
        msg = f"audit_head.hash must be the chain head's hash in lower-case hex, got {digest!r}"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered document, where its files are, and the SHA-256 of each file by format."""

    markdown: str
    sha256: str
    files: dict[str, str]
    digests: dict[str, str] = field(default_factory=dict)


def check_line(number: str, run_id: str, sha256: str) -> str:
    """The line a reader checks a printed document by (also the QR code's text)."""
    return f"Nomor {number} | Run {run_id} | SHA-256 {sha256}"


def _check_block(context: dict[str, Any], sha256: str) -> str:
    """HTML for the check line and its QR code, added after the Markdown step.

    Raw HTML inside the Markdown is refused on purpose (``safe_markdown``), so this is built
    here from escaped text. The QR code is a table of dark and light cells rather than SVG or
    an image: the HTML holds no SVG (a document's HTML must not carry script-capable markup)
    and the PDF renderer fetches nothing for it.
    """
    doc, run = context.get("doc") or {}, context.get("run") or {}
    line = check_line(str(doc.get("number", "-")), str(run.get("id", "-")), sha256)
    return (
        f"<div class='periksa'>{qr_table(line)}<p>Periksa keaslian dengan <code>sop docs verify</code> atau "
        f"log audit.<br><span>{html.escape(line)}</span></p></div>"
    )


def qr_table(text: str) -> str:
    """``text`` as a QR code (error correction M) drawn with a table's cells; '' without segno."""
    try:
        import segno
    except ImportError:  # the printed line alone still lets a reader check the document
        return ""
    rows = segno.make(text, error="m").matrix_iter(scale=1, border=2)
    body = "".join(
        "<tr>" + "".join("<td class='d'></td>" if dark else "<td></td>" for dark in row) + "</tr>" for row in rows
    )
    return f"<table class='qr' aria-label='QR'>{body}</table>"


def render_document(
    template: str,
    context: dict[str, Any],
    out_dir: Path,
    stem: str,
    *,
    pdf: bool = True,
    signer: PdfSigner | None = None,
) -> Rendered:
    """Render ``template`` with ``context`` into ``out_dir/stem.{md,html,pdf}``.

    ``context["audit_head"]`` (optional, ``{"seq", "hash"}``): the audit chain head when
    issued, printed under the signatures so the document can be checked against the log.
    Times print in ``context["org"].timezone`` (default Asia/Jakarta, WIB). ``signer`` signs
    the PDF (PAdES) before the digests are taken, so the recorded digest is the signed file's.
    """
    _check_audit_head(context)
    zone = str(getattr(context.get("org"), "timezone", "Asia/Jakarta"))
    ZoneInfo(zone)  # an unknown zone fails here, before anything is written
    token = _ZONE.set(zone)
    try:
        md_text = _env().get_template(template).render(**context)
    finally:
        _ZONE.reset(token)
    md_sha = sha256_hex(md_text)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(md_text, encoding="utf-8")
    files["md"] = str(md_path)
    css = _CSS.read_text(encoding="utf-8")
    head = f"<meta charset='utf-8'><title>{html.escape(stem)}</title><style>{css}</style>"
    body = to_html(md_text) + _check_block(context, md_sha)
    page = f"<!doctype html><html lang='id'><head>{head}</head><body>{body}</body></html>"
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(page, encoding="utf-8")
    files["html"] = str(html_path)
    if pdf:
        from sop_runner.adapters.paperwork.pdf import html_to_pdf  # WeasyPrint takes a second to import

        pdf_path = out_dir / f"{stem}.pdf"
        html_to_pdf(page, pdf_path)
        if signer is not None:
            signer.sign(pdf_path)
        files["pdf"] = str(pdf_path)
    digests = {fmt: hashlib.sha256(Path(path).read_bytes()).hexdigest() for fmt, path in files.items()}
    return Rendered(markdown=md_text, sha256=md_sha, files=files, digests=digests)
