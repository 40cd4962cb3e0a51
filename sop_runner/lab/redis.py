"""The lab's Redis: a daemon on a loopback port, no persistence, pid file in .lab/run."""

from __future__ import annotations

import shutil
import socket
import time

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.ports import HOST
from sop_runner.lab.procs import alive, run, stop_pid, tail

_PROCESS = "redis-server"


def _binary() -> str:
    path = shutil.which(_PROCESS) or "/usr/bin/redis-server"
    if not shutil.which(path):
        raise EnvironmentProblemError("redis-server not found", hint="run scripts/bootstrap.sh (installs redis-server)")
    return path


def log_file(paths: LabPaths) -> str:
    return str(paths.logs / "redis.log")


def running_pid(paths: LabPaths) -> int | None:
    return alive(paths.redis_pid, _PROCESS)


def start(paths: LabPaths, port: int) -> None:
    """Start redis-server daemonised on ``port`` and wait for PONG."""
    run(
        [
            _binary(),
            "--port",
            str(port),
            "--bind",
            HOST,
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--pidfile",
            str(paths.redis_pid),
            "--logfile",
            log_file(paths),
            "--dir",
            str(paths.redis_dir),
        ],
        what=f"starting redis-server on port {port}",
        hint=f"see {log_file(paths)}",
        timeout=30,
    )
    deadline = time.monotonic() + 15
    while command(port, "PING") != "+PONG":
        if time.monotonic() > deadline:
            raise EnvironmentProblemError(
                f"redis-server on port {port} does not answer PING\n{tail(paths.logs / 'redis.log')}",
                hint=f"see {log_file(paths)}",
            )
        time.sleep(0.1)


def stop(paths: LabPaths) -> bool:
    return stop_pid(paths.redis_pid, _PROCESS)


def command(port: int, *words: str) -> str:
    """Send one inline command and return the first reply line ('' if unreachable).

    The inline protocol keeps the project free of a Redis client library for three commands.
    """
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall((" ".join(words) + "\r\n").encode())
            reply = sock.makefile("rb").readline()
    except OSError:
        return ""
    return reply.decode(errors="replace").strip()


def flush(port: int) -> None:
    """Drop cached objects and queued jobs so a reset NetBox does not see stale state."""
    reply = command(port, "FLUSHALL")
    if reply != "+OK":
        raise EnvironmentProblemError(
            f"redis on port {port} refused FLUSHALL: {reply or 'no answer'}",
            hint="run `sop lab status`; `sop lab down && sop lab up` restarts it",
        )
