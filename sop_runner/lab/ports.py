"""Loopback ports on a shared machine: pick free ones, and check before binding."""

from __future__ import annotations

import os
import socket

from sop_runner.errors import EnvironmentProblemError

HOST = "127.0.0.1"


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on ``host:port`` and we could bind it now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT from our own last run would look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def env_port(name: str) -> int | None:
    """The port forced by environment variable ``name``, validated."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise EnvironmentProblemError(
            f"{name}={raw!r} is not a TCP port", hint=f"set {name} to a number 1-65535 or unset it"
        )
    return int(raw)


def choose_port(env_name: str, previous: int | None) -> int:
    """The forced port, else the port used last time if still free, else a new free one."""
    forced = env_port(env_name)
    if forced is not None:
        return forced
    if previous and port_is_free(previous):
        return previous
    return free_port()


def require_free(service: str, port: int, env_name: str) -> None:
    """Fail, naming the port and the fix, when ``port`` is taken."""
    if not port_is_free(port):
        raise EnvironmentProblemError(
            f"{service} cannot start: port {HOST}:{port} is already in use",
            hint=(
                f"stop whatever listens there (ss -ltnp 'sport = :{port}') "
                f"or unset/change {env_name} so the lab picks a free port"
            ),
        )
