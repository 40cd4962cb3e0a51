"""Remove secret values from files and data before anything is stored."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

MASK = "********"
MIN_SECRET = 4  # shorter values would mask ordinary text everywhere


def _wanted(secrets: list[str]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)


def _forms(secret: str) -> list[str]:
    """The secret as written raw and as JSON escapes it (event files use ``ensure_ascii``)."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return sorted(forms, key=len, reverse=True)


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every secret value (longest first, so one containing another is caught whole)."""
    for secret in _wanted(secrets):
        for form in _forms(secret):
            text = text.replace(form, MASK)
    return text


def redact_data(data: Any, secrets: list[str]) -> Any:
    """Redact strings anywhere inside lists and dicts (keys too)."""
    if isinstance(data, str):
        return redact_text(data, secrets)
    if isinstance(data, list | tuple):
        return [redact_data(x, secrets) for x in data]
    if isinstance(data, dict):
        return {redact_data(k, secrets): redact_data(v, secrets) for k, v in data.items()}
    return data


def redact_event(event: dict[str, Any], secrets: list[str]) -> None:
    """Redact an ansible-runner event in place (the runner writes the same dict afterwards)."""
    if not _wanted(secrets):
        return
    clean = redact_data(event, secrets)
    event.clear()
    event.update(clean)


def _scrub_file(path: Path, byte_forms: list[bytes]) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if not any(b in data for b in byte_forms):
        return False
    for form in byte_forms:
        data = data.replace(form, MASK.encode())
    tmp = path.with_name(path.name + ".scrub")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
    return True


def scrub_run_dir(path: Path, secrets: list[str]) -> int:
    """Mask every secret in every file under ``path`` and make it private; return files changed.

    Files become 0600 and directories 0700 whatever they held, so what a scrub cannot
    recognise (a secret not configured) is at least readable by the runner's user only.
    Symlinks are neither followed nor changed.
    """
    if not path.exists():
        return 0
    byte_forms = sorted({f.encode() for s in _wanted(secrets) for f in _forms(s)}, key=len, reverse=True)
    changed = 0
    for here, dirs, files in os.walk(path):
        base = Path(here)
        _private(base, 0o700)
        for name in dirs:
            _private(base / name, 0o700)
        for name in files:
            file = base / name
            if file.is_symlink() or not file.is_file():
                continue
            if byte_forms and _scrub_file(file, byte_forms):
                changed += 1
            _private(file, 0o600)
    return changed


def _private(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    if stat.S_IMODE(st.st_mode) != mode:
        path.chmod(mode)



def scrub_tree(root: Path, secrets: list[str]) -> int:
    """The older name of :func:`scrub_run_dir`, kept for its callers."""
    return scrub_run_dir(root, secrets)
