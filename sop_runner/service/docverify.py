"""Check offline that a document file is one the runner issued, unchanged.

The runner records each issued document in a signed ``document.issued`` event: the SHA-256 of
the Markdown record and of every file made from it (HTML, PDF). A file is genuine when its
digest is among them and the audit log, with every signature in it (the approvals the
document cites included), verifies. Nothing is fetched: the check reads the file and the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sop_runner.errors import AuditBrokenError, InvalidInputError, NotFoundError
from sop_runner.service import audit

if TYPE_CHECKING:
    from sop_runner.adapters.storage.store import EventStore
    from sop_runner.config import RunnerConfig

_FORMATS = {".md": "md", ".html": "html", ".pdf": "pdf"}


@dataclass(frozen=True, slots=True)
class Verified:
    """The issued document a file is."""

    run_id: str
    doc_id: str
    title: str
    fmt: str
    sha256: str
    event_seq: int
    rows_checked: int


def verify_file(cfg: RunnerConfig, store: EventStore, path: Path) -> Verified:
    """The issue record ``path`` matches; NotFoundError if none does, AuditBrokenError if the
    log does not verify (then no document can be vouched for)."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"{path}: not a document file (.md, .html or .pdf)",
            hint="pass the .md, .html or .pdf the run issued (`sop docs RUN` lists them)",
        )
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file", hint="check the path")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    match = None
    recorded_here = None
    for row in store.audit_rows():
        if row.kind != "document.issued":
            continue
        data = row.data
        raw_digests = data.get("digests")
        digests: dict[str, object] = raw_digests if isinstance(raw_digests, dict) else {}
        wanted = str(digests.get(fmt) or (data.get("sha256") if fmt == "md" else "") or "")
        if wanted == digest:
            match = row
        raw_files = data.get("files")
        files: dict[str, object] = raw_files if isinstance(raw_files, dict) else {}
        if files and Path(str(files.get(fmt, ""))).resolve() == path.resolve():
            recorded_here = (row, wanted)
    if match is None:
        if recorded_here is not None:
            row, wanted = recorded_here
            raise AuditBrokenError(
                f"{path} is document {row.data.get('doc_id')} of run {row.run_id}, but it changed since it was "
                f"issued: SHA-256 {digest}, issued {wanted or '(no digest recorded for ' + fmt + ')'}",
                hint="get the document again from the runner; do not rely on this copy",
            )
        raise NotFoundError(
            f"{path}: no document with SHA-256 {digest} was issued by this runner",
            hint="the file was changed, or comes from another runner (check --config)",
        )
    rows, problems = audit.verify(cfg, store)
    if problems:
        raise AuditBrokenError(
            f"the audit log does not verify ({len(problems)} problem(s), first: {problems[0]}); "
            f"document {match.data.get('doc_id')} of run {match.run_id} cannot be vouched for",
            hint="run `sop audit verify` and resolve the problems first",
        )
    return Verified(
        run_id=match.run_id,
        doc_id=str(match.data.get("doc_id", "")),
        title=str(match.data.get("title", "")),
        fmt=fmt,
        sha256=digest,
        event_seq=match.seq,
        rows_checked=rows,
    )
