"""One lab operation at a time per lab directory, across processes.

Several test sessions (and people) share a clone's lab; without this, two `up`s race to
restart NetBox and a `reset` can drop the database under another `up`.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import LabPaths


@contextmanager
def lab_lock(paths: LabPaths) -> Iterator[None]:
    """Hold an exclusive flock on ``.lab/run/lab.lock``; released when the process exits."""
    paths.run.mkdir(parents=True, exist_ok=True)
    with (paths.run / "lab.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def session_lock(paths: LabPaths, timeout: float) -> Iterator[None]:
    """Use the lab NetBox alone, for a whole test session, waiting up to ``timeout`` seconds.

    Tests reset the lab and assert on exact objects; two sessions interleaving their resets
    and writes fail each other at random. Holding this for the session serialises them.
    The holder's pid and command line are written into the file for the waiting message.
    """
    paths.run.mkdir(parents=True, exist_ok=True)
    lock_file = paths.run / "session.lock"
    with lock_file.open("a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = lock_file.read_text().strip() or "unknown"
                    raise EnvironmentProblemError(
                        f"the lab NetBox is still used by another test session after "
                        f"{timeout:.0f} s (holder: {holder})",
                        hint="wait for that session to finish, or give this clone its own lab "
                        "with SOP_LAB_DIR=/some/dir",
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def session_holder(paths: LabPaths) -> str | None:
    """Who holds the session lock (a running test session), or None when nobody does."""
    lock_file = paths.run / "session.lock"
    if not lock_file.exists():
        return None
    with lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return lock_file.read_text().strip() or "unknown"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
