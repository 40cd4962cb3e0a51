"""The paperwork renderer executes nothing and leaks nothing (issue 13, item 2).

A requester's text (a justification, a comment) and what NetBox or a role returns reach the
documents. Before this, ``<script>`` reached the HTML, ``<link rel="attachment" href="file:///…">``
embedded a credentials file in the PDF sent to the requester, and an ``<img>`` made the PDF
renderer fetch a loopback URL. These tests render the real templates with real Markdown and
real WeasyPrint, a loopback HTTP server counting what reaches it, and a secret file whose
content must appear nowhere.
"""

from __future__ import annotations

import re
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sop_runner.adapters.paperwork.pdf import ASSETS, AssetsOnlyFetcher, FetchRefusedError, html_to_pdf
from sop_runner.adapters.paperwork.render import TEMPLATES, render_document
from sop_runner.adapters.paperwork.safe_markdown import safe_href, safe_src, to_html
from sop_runner.config import Organisation
from sop_runner.core.timestd import TimeKind, format_minutes

TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("*.md.j2") if not p.name.startswith("_"))
HEAD = {"seq": 42, "hash": "0123456789abcdef" + "f" * 48}


@pytest.fixture
def loopback() -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server on a random port; the list holds every path requested."""
    hits: list[str] = []

    class Count(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Count)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, str]:
    """A stand-in for the lab's NetBox credentials file, with content found nowhere else."""
    token = uuid.uuid4().hex
    path = tmp_path / "netbox.env"
    path.write_text(f"NETBOX_TOKEN=SECRET{token}\n")
    return path, f"SECRET{token}"


def _payloads(port: int, secret_path: Path) -> list[str]:
    file_url = secret_path.as_uri()
    return [
        "<script>alert(1)</script>",
        "[klik](javascript:alert(1))",
        f'<link rel="attachment" href="{file_url}">',
        f'<img src="http://127.0.0.1:{port}/raw-img">',
        f"![x]({file_url})",
        "{{ 7*7 }}",
        f"![y](http://127.0.0.1:{port}/md-img)",
        f'<a rel="attachment" href="{file_url}">lampiran</a>',
        f"<style>@import url(http://127.0.0.1:{port}/css);</style>",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ]


def _context(hostile: list[str], **extra: Any) -> dict[str, Any]:
    """A context with the keys service/documents.py gives, hostile text in every free field."""
    block = "\n\n".join(hostile)  # one per paragraph: each would be an HTML block before
    now = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    ctx: dict[str, Any] = {
        "org": Organisation(),
        "issued_at": now,
        "audit_head": HEAD,
        "doc": {"id": "ba", "kind": "berita_acara", "title": "Permohonan Akun Akses Internet",
                "number": "BERITAACARA/r1/ba/2026"},
        "sop": {"id": "wonosobo-58", "title": "PERMOHONAN AKUN AKSES INTERNET",
                "title_case": "Permohonan Akun Akses Internet", "number_text": "nomor 58",
                "source_title": "Perbup Wonosobo"},
        "run": {"id": "r1", "created": now, "internal": False, "rejected": False,
                "requester": {"name": hostile[0], "nip": hostile[2], "tenant": "dinkes"},
                "skpd_name": "Dinas Kesehatan", "outcome_text": "SELESAI — permohonan dipenuhi"},
        "params": [{"label": f"Isian {i}", "value": v} for i, v in enumerate(hostile)]
        + [{"label": "Penanggung jawab", "value": "Dinas A & B"}],
        "signers": [{"actor_name": "Kepala Seksi", "name": hostile[3], "nip": "1980", "jabatan": hostile[1],
                     "action_text": "langkah 4: menyetujui", "at": "2026-12-04 09:00 UTC",
                     "key": "SHA256:abc", "fingerprint": "SHA256:def"}],
        "plan": {"hash": "ab" * 32, "diff": "--- a\n+++ b\n+if a < b && c > d:\n+" + hostile[0],
                 "summary": [{"host": "localhost", "task": hostile[2], "changed": True}],
                 "result": {"address": hostile[4], "items": [{"name": hostile[5], "value": hostile[6]}],
                            "findings": [hostile[7]]}},
        "applied_result": {"actions": {"srv-01": [hostile[8]]}, "clean": {"srv-01": True}},
        "verification": [{"host": "localhost", "ok": 3, "changed": 1, "failures": 0, "dark": 0}],
        "rejection": {"reason": block, "by": hostile[1], "step": 3},
        "steps": [{"number": 1, "text": hostile[2], "by_name": hostile[0], "started": "2026-12-04 08:00:00",
                   "ended": "2026-12-04 08:10:00", "duration": "10 menit", "standard": "30 menit", "sla": "sesuai"}],
        "urgent": [{"step": 5, "by": "budi", "at": "2026-12-04 08:00:00", "reason": block,
                    "deadline": "1 x 24 jam", "status": "BELUM DISETUJUI"}],
        "items": [],
        "findings": [block],
        "author": "Kepala Seksi",
        "TimeKind": TimeKind,
        "format_minutes": format_minutes,
    }
    ctx.update(extra)
    return ctx


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of the body."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _assert_inert_html(page: str) -> None:
    assert "<script" not in page.lower() and "javascript:" not in page.lower() and "<link" not in page.lower()
    tags = _parse(page).tags
    assert [t for t, _ in tags].count("style") == 1, "only the renderer's own stylesheet"
    assert not {t for t, _ in tags} & {"script", "link", "iframe", "object", "embed", "svg", "base"}
    for tag, attrs in tags:
        if tag == "img":
            assert "src" not in attrs, f"an image from a value keeps no address: {attrs}"
        if tag == "a" and "href" in attrs:
            assert re.match(r"(https?://|mailto:|#)", attrs["href"] or ""), attrs
        assert "rel" not in attrs and not any(k.startswith("on") for k in attrs), (tag, attrs)


def _pdf_streams(data: bytes) -> bytes:
    """The PDF with every Flate stream inflated, so a compressed secret cannot hide."""
    out = [data]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, flags=re.DOTALL):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(out)


def _assert_no_leak(pdf_path: Path, secret_text: str, hits: list[str]) -> None:
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/EmbeddedFile" not in data and b"/FileAttachment" not in data, "the PDF embeds a file"
    assert secret_text.encode() not in _pdf_streams(data)
    assert hits == [], f"the PDF renderer fetched from the loopback server: {hits}"


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_every_template_escapes_every_value(template: str, tmp_path: Path, secret: tuple[Path, str]) -> None:
    hostile = _payloads(9, secret[0])
    for rejected in (False, True):
        ctx = _context(hostile)
        ctx["run"]["rejected"] = rejected
        out = render_document(template, ctx, tmp_path / str(rejected), "doc", pdf=False)
        for raw in ("<script", "<link", "<img", "<a ", "<style"):
            assert raw not in out.markdown, f"{raw} reached the Markdown record of {template}"
        page = Path(out.files["html"]).read_text(encoding="utf-8")
        _assert_inert_html(page)
        assert "{{ 7*7 }}" in out.markdown, "a value is never rendered as a template"


@pytest.mark.parametrize(("template", "rejected"), [("laporan.md.j2", False), ("surat_jawaban.md.j2", True)])
def test_a_hostile_document_fetches_nothing_and_embeds_nothing(
    template: str, rejected: bool, tmp_path: Path, secret: tuple[Path, str], loopback: tuple[int, list[str]]
) -> None:
    port, hits = loopback
    ctx = _context(_payloads(port, secret[0]))
    ctx["run"]["rejected"] = rejected
    out = render_document(template, ctx, tmp_path, "doc", pdf=True)
    _assert_inert_html(Path(out.files["html"]).read_text(encoding="utf-8"))
    _assert_no_leak(Path(out.files["pdf"]), secret[1], hits)
    assert secret[1] not in Path(out.files["html"]).read_text(encoding="utf-8")


def test_the_pdf_step_alone_refuses_raw_hostile_html(
    tmp_path: Path, secret: tuple[Path, str], loopback: tuple[int, list[str]]
) -> None:
    """Were the Markdown ever to let HTML through, the PDF step still fetches and embeds nothing."""
    port, hits = loopback
    file_url, http = secret[0].as_uri(), f"http://127.0.0.1:{port}"
    page = f"""<!doctype html><html><head>
        <link rel="attachment" href="{file_url}" title="t">
        <link rel="stylesheet" href="{http}/sheet.css">
        <style>@import url({file_url}); @import url({http}/import.css);
          @font-face {{ font-family: evil; src: url({http}/font.woff); }}
          p {{ font-family: evil; background: url({http}/bg.png); }}</style></head><body>
        <p>halo</p><a rel="attachment" href="{file_url}">lampiran</a>
        <img src="{http}/img.png"><img src="{file_url}"><object data="{http}/obj.svg"></object>
        <embed src="{file_url}"><svg width="10" height="10"><image href="{http}/svg.png" width="5" height="5"/></svg>
        <img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E">
        </body></html>"""
    fetcher = html_to_pdf(page, tmp_path / "raw.pdf")
    _assert_no_leak(tmp_path / "raw.pdf", secret[1], hits)
    assert file_url in fetcher.refused and f"{http}/img.png" in fetcher.refused
    assert f"{http}/font.woff" in fetcher.refused and f"{http}/sheet.css" in fetcher.refused


def test_the_fetcher_alone_keeps_a_declared_attachment_out(tmp_path: Path, secret: tuple[Path, str]) -> None:
    """Without the attachment stripping of html_to_pdf, WeasyPrint asks the fetcher; it refuses."""
    from weasyprint import HTML

    fetcher = AssetsOnlyFetcher()
    page = f'<html><head><link rel="attachment" href="{secret[0].as_uri()}"></head><body>x</body></html>'
    data = HTML(string=page, url_fetcher=fetcher).write_pdf()
    assert b"/EmbeddedFile" not in data and secret[1].encode() not in _pdf_streams(data)
    assert fetcher.refused == [secret[0].as_uri()]


def test_the_fetcher_serves_only_regular_files_inside_its_root(tmp_path: Path, secret: tuple[Path, str]) -> None:
    root = tmp_path / "assets"
    root.mkdir()
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "leak.txt").symlink_to(secret[0])
    fetcher = AssetsOnlyFetcher(root)
    response = fetcher.fetch((root / "logo.svg").as_uri())
    assert response.read().startswith(b"<svg") and response.content_type == "image/svg+xml"
    for url in (
        secret[0].as_uri(),  # file:// outside the assets
        (root / "leak.txt").as_uri(),  # a symlink out of the assets
        (root / ".." / secret[0].name).as_uri().replace("assets/..", "assets/%2e%2e"),
        f"file://{root}/../{secret[0].name}",
        f"file://otherhost{root}/logo.svg",  # urllib would try FTP on another host
        "http://127.0.0.1:9/x", "https://example.org/x", "ftp://example.org/x",
        "data:text/plain,halo", (root).as_uri(),  # a folder is not a file
    ):
        with pytest.raises(FetchRefusedError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 10
    assert AssetsOnlyFetcher().fetch((ASSETS / "paperwork.css").as_uri()).read().startswith(b"/*")


def test_markdown_reads_raw_html_as_text_and_makes_unsafe_links_inert() -> None:
    body = to_html('<div onclick="x">a</div>\n\n<script>alert(1)</script>\n\nteks <img src=x onerror=alert(1)> '
                   "[a](javascript:alert(1)) [b](JaVa\tScRiPt:alert(1)) [c](javascript&#58;alert(1)) "
                   "[d](file:///etc/passwd) [e](//evil.example/x) ![f](http://127.0.0.1/x) "
                   "[g](https://example.org/x) [h](mailto:kominfo@example.org) [i](#ttd)")
    tags = _parse(body).tags
    assert {t for t, _ in tags} <= {"p", "a", "img"}, tags
    hrefs = [a.get("href") for t, a in tags if t == "a"]
    assert hrefs == [None, None, None, None, None, "https://example.org/x", "mailto:kominfo@example.org", "#ttd"]
    assert [a.get("src") for t, a in tags if t == "img"] == [None]
    assert "&lt;script&gt;" in body and "&lt;div" in body


@pytest.mark.parametrize("url", ["javascript:x", " JAVASCRIPT:x", "java\nscript:x", "javascript&#x3A;x", "data:x",
                                 "file:///etc/shadow", "http:/x", "vbscript:x", "", "relative/path"])
def test_an_unsafe_link_target_is_refused(url: str) -> None:
    assert not safe_href(url)


@pytest.mark.parametrize("src", ["http://127.0.0.1/x", "//h/x", "/etc/passwd", "file:///x", "data:image/png;base64,",
                                 "../secret", "a/../../b", "\\\\host\\share", ""])
def test_an_image_source_outside_the_assets_is_refused(src: str) -> None:
    assert not safe_src(src)
    assert safe_src("logo.svg") and safe_href("https://example.org/")


def test_legitimate_content_still_reads_well(tmp_path: Path) -> None:
    ctx = _context(["biasa"] * 10)
    out = render_document("laporan.md.j2", ctx, tmp_path, "laporan", pdf=False)
    page = Path(out.files["html"]).read_text(encoding="utf-8")
    parsed = _parse(page)
    text = "".join(parsed.text)
    tags = [t for t, _ in parsed.tags]
    assert tags.count("table") >= 3 and "strong" in tags and "br" in tags, "tables, bold, the letterhead's lines"
    assert "Dinas A & B" in text, "an ampersand in a value prints as one ampersand"
    assert "+if a < b && c > d:" in text, "a diff prints as written, inside its code block"
    assert "PEMERINTAH KABUPATEN WONOSOBO" in text and "Dinas A & B" in out.markdown
    line = "Kepala rantai audit saat diterbitkan: #42 0123456789abcdef"
    assert line in out.markdown and line in text
    assert "Kepala rantai audit" not in render_document(
        "laporan.md.j2", {k: v for k, v in ctx.items() if k != "audit_head"}, tmp_path, "tanpa", pdf=False).markdown


def test_a_diff_cannot_close_its_own_code_block(tmp_path: Path) -> None:
    ctx = _context(["biasa"] * 10)
    ctx["plan"]["diff"] = "+a\n```\n+<script>alert(1)</script>\n````\n# Judul palsu"
    out = render_document("laporan.md.j2", ctx, tmp_path, "laporan", pdf=False)
    page = Path(out.files["html"]).read_text(encoding="utf-8")
    assert "<h1>Judul palsu" not in page and "# Judul palsu" in page and "<script" not in page


@pytest.mark.parametrize("head", [{"seq": -1, "hash": "a" * 64}, {"seq": True, "hash": "a" * 64},
                                  {"seq": 1, "hash": "<script>"}, {"seq": 1}, "42"])
def test_a_malformed_audit_head_is_refused_naming_the_field(head: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"audit_head\.(seq|hash)"):
        render_document("formulir.md.j2", _context(["x"] * 10, audit_head=head), tmp_path, "f", pdf=False)
