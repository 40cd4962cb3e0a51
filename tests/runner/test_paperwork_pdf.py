"""The PDFs an official receives: every glyph on the printable area, a register number, local time.

Read back with pdfminer.six (glyph boxes and text), from a real run of the fixture catalogue and
from sample contexts for every template, including values long enough to overflow a naive layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTChar, LTComponent, LTPage

from sop_runner.adapters.paperwork.numbering import NUMBER_RE
from sop_runner.adapters.paperwork.render import TEMPLATES, render_document
from sop_runner.config import Organisation
from sop_runner.core.timestd import TimeKind, format_minutes
from sop_runner.service.runs import RunService

CM = 72 / 2.54
A4 = (21 * CM, 29.7 * CM)
# The page's margins are 3 cm left and 2 cm elsewhere (paperwork.css); the footer's page number
# sits in the bottom margin. Nothing may reach the outer 1 cm, nor cross the left or right margin.
AREA = (3 * CM - 1, 1 * CM, A4[0] - 2 * CM + 1, A4[1] - 1 * CM)
TEMPLATE_NAMES = sorted(p.name for p in TEMPLATES.glob("[!_]*.md.j2"))


def _chars(item: LTComponent) -> Iterator[LTChar]:
    if isinstance(item, LTChar):
        yield item
    for child in getattr(item, "_objs", []):
        yield from _chars(child)


def read_pdf(path: Path) -> str:
    """The PDF's text, after checking every page is A4 and every glyph lies inside AREA."""
    pages = list(extract_pages(str(path)))
    assert pages
    for page in pages:
        assert isinstance(page, LTPage)
        assert (round(page.width), round(page.height)) == (round(A4[0]), round(A4[1])), "A4 portrait"
        for ch in _chars(page):
            if not ch.get_text().strip():
                continue
            x0, y0, x1, y1 = ch.bbox
            assert x0 >= AREA[0] and x1 <= AREA[2] and y0 >= AREA[1] and y1 <= AREA[3], (
                f"{path.name} page {page.pageid}: {ch.get_text()!r} at {ch.bbox} is outside {AREA}"
            )
    return str(extract_text(str(path)))


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


LONG = "x" * 180  # one word wider than the page: must wrap, not run off
FINGERPRINT = "SHA256:" + "A1b2C3d4" * 6


def sample_context(zone: str = "Asia/Makassar", rejected: bool = False) -> dict[str, Any]:
    """A context as service/documents.py builds it, with long values everywhere."""
    now = datetime(2026, 12, 4, 7, 47, tzinfo=UTC)  # 15:47 WITA, 14:47 WIB
    org = Organisation(timezone=zone, name="Dinas Komunikasi dan Informatika Kabupaten Tanah Bumbu",
                       parent="Pemerintah Kabupaten Tanah Bumbu", city="Batulicin")
    signer = {"actor_name": "Kepala Dinas", "name": "Drs. Sutrisno, M.Si.", "nip": "196905201994031005",
              "jabatan": "Kepala Dinas Komunikasi dan Informatika", "pangkat": "Pembina Tk. I (IV/b)",
              "action_text": "langkah 7: menyetujui", "at": now, "key": FINGERPRINT, "fingerprint": FINGERPRINT}
    return {
        "org": org, "issued_at": now, "audit_head": {"seq": 42, "hash": "0123456789abcdef" * 4},
        "doc": {"id": "doc", "kind": "surat", "title": "Dokumen Uji", "number": "000.5.4/117/Diskominfo/2026"},
        "sop": {"id": "uji", "title": "PERMOHONAN UJI", "title_case": "Permohonan Uji", "number_text": "nomor 57",
                "source_title": "Peraturan Bupati"},
        "run": {"id": "20261204-2daa738e", "created": now, "internal": False, "rejected": rejected,
                "requester": {"name": "Agus Salim", "nip": "198001012005011001", "tenant": "dinkes"},
                "skpd_name": "Dinas Kesehatan", "outcome_text": "SELESAI — permohonan dipenuhi"},
        "params": [{"label": "Keterangan", "value": LONG}, {"label": "Antarmuka server", "value": "eth0"}],
        "signers": [signer],
        "plan": {"hash": "ab" * 32, "diff": "+" + LONG + "\n-" + "y" * 150,
                 "summary": [{"host": "localhost", "task": "Preflight | " + LONG, "changed": True}],
                 "result": {"free_before": 10, "free_after": 9, "address": "203.0.113.7/32",
                            "items": [{"name": LONG, "value": LONG}]}},
        "new_result": {"free_before": 10, "free_after": 9, "address": "203.0.113.7/32"},
        "applied_result": {}, "verification": [{"host": LONG, "ok": 3, "changed": 1, "failures": 0, "dark": 0}],
        "rejection": {"reason": "tidak sesuai " + LONG, "by": "Ir. Hendra Wijaya, M.T.", "step": 2},
        "steps": [{"number": 1, "text": LONG, "by_name": "Agus Salim", "started": "2026-12-04 07:00:00",
                   "ended": "2026-12-04 07:40:00", "duration": "40 menit", "standard": "1 jam", "sla": "sesuai"}],
        "urgent": [], "items": [], "findings": [LONG], "author": "Kepala Seksi",
        "TimeKind": TimeKind, "format_minutes": format_minutes,
    }


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_every_template_stays_on_the_page_in_local_time(template: str, tmp_path: Path) -> None:
    out = render_document(template, sample_context(), tmp_path, "doc", pdf=True)
    text = _flat(read_pdf(Path(out.files["pdf"])))
    assert "000.5.4/117/Diskominfo/2026" in text
    assert "UTC" not in text and "UTC" not in out.markdown, "no time is printed in UTC"
    assert "4 Desember 2026" in text
    assert "Drs. Sutrisno, M.Si." in text and "NIP 196905201994031005" in text and "Pembina Tk. I (IV/b)" in text
    assert "LAMPIRAN TEKNIS" in text
    assert f"SHA-256 {out.sha256}" in text.replace(" ", " "), "the check line names the recorded digest"
    assert "15:47 WITA" in text


def test_the_same_document_in_wib_prints_wib(tmp_path: Path) -> None:
    out = render_document("berita_acara.md.j2", sample_context("Asia/Jakarta"), tmp_path, "ba", pdf=True)
    text = _flat(read_pdf(Path(out.files["pdf"])))
    assert "Jumat, tanggal 4 Desember 2026, pukul 14:47 WIB" in text
    assert "WITA" not in text


def test_the_reply_letter_names_each_fact_once_and_before_ahead_of_after(tmp_path: Path) -> None:
    out = render_document("surat_jawaban.md.j2", sample_context(), tmp_path, "surat", pdf=False)
    md = out.markdown
    assert md.index("Sisa alamat sebelum") < md.index("Sisa alamat sesudah")
    assert md.count("eth0") == 1
    assert "Yth. Kepala Dinas Kesehatan" in md
    head = md[md.index("| Nomor |"):md.index("Yth.")]
    assert "Batulicin, 4 Desember 2026" in head and "| Hal |" in head and "| Sifat |" in head


def test_results_put_each_before_ahead_of_its_after() -> None:
    from sop_runner.service.documents import ordered

    stored = {"address": "a", "free_after": 9, "free_before": 10, "versions_after": 2, "versions_before": 1}
    assert list(ordered(stored)) == ["address", "free_before", "free_after", "versions_before", "versions_after"]


def test_a_real_runs_documents_name_their_signers_and_register_numbers(svc: RunService, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    params = {"skpd": "dinkes", "path": str(target), "content": "halo"}
    run_id = svc.request("test-file-change", "agus.dinkes", params).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "layak")
    svc.plan(run_id, "budi.teknis")
    svc.approve(run_id, "rina.kasi", True, "sesuai rencana", plan_hash=svc.reviewable_plan(run_id))
    svc.apply(run_id, "budi.teknis")
    svc.approve(run_id, "sutrisno.kadis", True, "BA ditandatangani", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "rina.kasi", note="surat jawaban")
    docs = svc.state(run_id).documents
    texts = {d: _flat(read_pdf(Path(v["files"]["pdf"]))) for d, v in docs.items()}
    signers = {"surat": ["Drs. Sutrisno, M.Si."], "ba": ["Rina Kusumawati", "Budi Prasetyo"],
               "laporan": ["Budi Prasetyo"]}
    for doc, names in signers.items():
        block = texts[doc].split("ditandatangani secara elektronik")
        assert len(block) == len(names) + 1, f"{doc}: one signature block per signing lane"
        for name, after in zip(names, block[1:], strict=True):
            assert after.strip().startswith(name), f"{doc}: block names {name}"
        numbers = {m[0] for m in NUMBER_RE.finditer(texts[doc])}
        assert len(numbers) == 1, f"{doc}: one register number, printed at the top and in the check line: {numbers}"
        assert " WIB" in texts[doc] and "UTC" not in texts[doc]
        assert "dinkes" not in texts[doc] and "Dinas Kesehatan" in texts[doc]
    assert "Rina" not in texts["surat"], "the letter is signed by the Kepala Dinas, not the kasi's disposition"
    ba_md = Path(docs["ba"]["files"]["md"]).read_text(encoding="utf-8")
    assert ba_md.count("halo") == 1, "a result that repeats the request is not printed twice"
    register = [(r["doc_id"], r["status"], r["number"]) for r in svc.store.numbers()]
    printed = {d: NUMBER_RE.search(texts[d]) for d in docs}
    assert sorted(register) == sorted((d, "issued", m[0]) for d, m in printed.items() if m)
    assert len(register) == len(docs) == 3
