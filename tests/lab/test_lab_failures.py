"""`sop lab up` must fail cleanly: a clear message and nothing left running."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_runner.cli.exitcodes import ExitCode
from sop_runner.lab import lifecycle
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.ports import port_is_free

pytestmark = pytest.mark.netbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_lab_dir() -> Iterator[Path]:
    """A throw-away lab directory that the postgres account can reach.

    pytest's tmp_path is private to root (0700), and initdb runs as postgres.
    """
    path = Path(tempfile.mkdtemp(prefix="sop-lab-test-"))
    path.chmod(0o755)
    yield path
    lifecycle.down(LabPaths(root=path, cache=LabPaths.default().cache))
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in line:
            found.append(f"{proc.name}: {line}")
    return found


def test_a_taken_netbox_port_fails_clearly_and_leaves_nothing_running(
    scratch_lab_dir: Path, taken_port: int
) -> None:
    env = dict(os.environ, SOP_LAB_DIR=str(scratch_lab_dir), SOP_LAB_NETBOX_PORT=str(taken_port))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sop"), "lab", "up"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == ExitCode.ENVIRONMENT, proc.stderr
    assert f"port 127.0.0.1:{taken_port} is already in use" in proc.stderr
    assert "SOP_LAB_NETBOX_PORT" in proc.stderr

    paths = LabPaths(root=scratch_lab_dir, cache=LabPaths.default().cache)
    status = lifecycle.status(paths)
    assert not any(c.running for c in status.components), status
    # The attempt did start PostgreSQL and Redis before it reached NetBox; both must be gone.
    ports = json.loads(paths.ports_file.read_text())
    assert port_is_free(ports["postgres"])
    assert port_is_free(ports["redis"])
    assert _processes_mentioning(str(scratch_lab_dir)) == []
