"""Files that hold a secret: born 0600 in a 0700 directory, never widened afterwards.

A file written with the default umask and narrowed by ``chmod`` afterwards is readable by
anyone who opens it in between (and keeps the open descriptor); these helpers create the
file with its final mode instead. Used by the runner (its home), the lab (tokens, NetBox's
configuration, database passwords) and ``sop personas init`` (private keys).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir", "private_umask", "restrict", "write_private"]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


@contextmanager
def private_umask() -> Iterator[None]:
    """Everything created inside, by this process or the children it starts, is owner-only.

    The umask is process-wide: keep the block short (the lab's start-up, a key generation).
    """
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def private_dir(path: Path) -> Path:
    """``path`` as a 0700 directory: created so (parents too), an existing one narrowed."""
    with private_umask():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a 0600 file owned by the caller, atomically.

    The text goes to a new file opened 0600 beside ``path`` and is renamed over it, so a
    reader sees the old content or the new, never a half-written file, and an old file that
    was world-readable is replaced rather than reused (a descriptor someone opened on it
    before sees none of the new text).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        # The umask can only narrow the mode; make it exactly 0600 whatever the caller's umask.
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def restrict(path: Path, mode: int) -> bool:
    """Set an existing file or directory to ``mode`` if it differs; True when it changed.

    A missing path is not an error (the part of the lab that writes it never ran). Symbolic
    links are not followed: a link planted where a secret belongs must not turn this into a
    chmod of the file it points at.
    """
    try:
        current = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if path.is_symlink() or current & 0o7777 == mode:
        return False
    path.chmod(mode)
    return True
