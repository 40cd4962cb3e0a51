"""Run tools and manage the processes the lab started, by pid file only."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError


def tail(path: Path, lines: int = 15) -> str:
    """The end of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    hint: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> str:
    """Run ``cmd``; on failure raise an error naming ``what`` with the tool's own output."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblemError(f"{what}: {exc.filename} not found", hint=hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentProblemError(f"{what}: timed out after {timeout} s", hint=hint) from exc
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise EnvironmentProblemError(f"{what} failed (exit {proc.returncode}):\n{output}", hint=hint)
    return proc.stdout


def read_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` (first line), or None."""
    try:
        first = pidfile.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def cmdline(pid: int) -> str:
    """The process's command line, '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pidfile: Path, expect: str) -> int | None:
    """The pid from ``pidfile`` if that process runs and its command line contains ``expect``.

    Checking the command line keeps a recycled pid (another program, after a reboot or a
    crash) from being mistaken for ours and, worse, being killed by ``down``.
    """
    pid = read_pid(pidfile)
    if pid is None:
        return None
    line = cmdline(pid)
    if not line or expect not in line:
        return None
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if status == "Z" else pid


def stop_pid(pidfile: Path, expect: str, *, timeout: float = 20.0) -> bool:
    """SIGTERM the process named by ``pidfile``, SIGKILL after ``timeout``; True if one ran."""
    pid = alive(pidfile, expect)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive(pidfile, expect) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    return True
