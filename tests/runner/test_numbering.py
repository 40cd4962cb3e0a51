"""The numbering register: atomic under concurrency, kept across restarts, never reusing a number."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sop_runner.adapters.paperwork.numbering import NUMBER_RE, letter_number
from sop_runner.adapters.storage.store import EventStore
from sop_runner.config import load_config
from sop_runner.core.catalogue.model import Document, DocumentKind
from sop_runner.errors import InvalidInputError
from sop_runner.service import documents
from sop_runner.service.runs import RunService

BOTH_STORES = True  # conftest: SQLite, and the lab PostgreSQL when the netbox mark is selected


def _fmt(seq: int) -> str:
    return letter_number("000.5.4", seq, "Diskominfo", 2026)


def test_fifty_concurrent_issues_get_fifty_distinct_consecutive_numbers(database_url: str) -> None:
    EventStore(database_url)  # migrate once, as the runner does at start
    numbers: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(50)

    def issue(i: int) -> None:
        store = EventStore(database_url)  # each its own engine and connection
        try:
            start.wait()
            numbers.append(store.reserve_number("Diskominfo Wonosobo", "surat", 2026, f"run-{i}", "surat", _fmt))
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.engine.dispose()

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seq for seq, _ in numbers) == list(range(1, 51))
    assert len({number for _, number in numbers}) == 50
    assert all(NUMBER_RE.fullmatch(number) for _, number in numbers)
    assert "000.5.4/17/Diskominfo/2026" in {number for _, number in numbers}


def test_the_register_survives_a_restart_and_never_reuses_a_cancelled_number(database_url: str) -> None:
    store = EventStore(database_url)
    first = store.reserve_number("A", "berita_acara", 2026, "r1", "ba", _fmt)
    second = store.reserve_number("A", "berita_acara", 2026, "r2", "ba", _fmt)
    store.settle_number("A", "berita_acara", 2026, first[0], "issued")
    store.settle_number("A", "berita_acara", 2026, second[0], "cancelled")
    store.engine.dispose()
    again = EventStore(database_url)  # a restart: a new engine over the same database
    third = again.reserve_number("A", "berita_acara", 2026, "r3", "ba", _fmt)
    assert (first[0], second[0], third[0]) == (1, 2, 3), "the cancelled 2 is not handed out again"
    rows = {r["seq"]: r["status"] for r in again.numbers("A")}
    assert rows == {1: "issued", 2: "cancelled", 3: "reserved"}
    # Other kinds, years and agencies count on their own.
    assert again.reserve_number("A", "laporan", 2026, "r3", "lap", _fmt)[0] == 1
    assert again.reserve_number("A", "berita_acara", 2027, "r3", "ba", _fmt)[0] == 1
    assert again.reserve_number("B", "berita_acara", 2026, "r3", "ba", _fmt)[0] == 1
    with pytest.raises(ValueError, match="'issued' or 'cancelled'"):
        again.settle_number("A", "berita_acara", 2026, 3, "reused")


def test_a_failed_issue_cancels_its_number(svc: RunService, tmp_path: Path) -> None:
    params = {"skpd": "dinkes", "path": str(tmp_path / "f"), "content": "x"}
    run_id = svc.request("test-file-change", "agus.dinkes", params).run_id
    state, sop = svc.state(run_id), svc.sop("test-file-change")
    broken = Document(id="rusak", kind=DocumentKind.SURAT, title="Rusak", template="tidak_ada.md.j2")
    with pytest.raises(Exception, match="tidak_ada"):
        documents.render(svc, state, sop, broken)
    good = sop.document_def("surat")
    documents.render(svc, state, sop, good)
    rows = [(r["seq"], r["status"], r["doc_id"]) for r in svc.store.numbers()]
    assert rows == [(1, "cancelled", "rusak"), (2, "issued", "surat")]


def test_a_bad_numbering_configuration_names_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "sop.yml"
    cfg.write_text("organisation: {timezone: Asia/Atlantis}\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"organisation\.timezone"):
        load_config(str(cfg))
    cfg.write_text("organisation: {unit: 'Dis/kominfo'}\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"organisation\.unit"):
        load_config(str(cfg))
    cfg.write_text("organisation: {classification: {surat: 5}}\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"organisation\.classification"):
        load_config(str(cfg))
    with pytest.raises(ValueError, match=r"organisation\.classification"):
        letter_number("abc", 1, "Diskominfo", 2026)
