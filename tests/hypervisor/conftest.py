"""Fixtures for the hypervisor tests: the libvirt lab (started once, never skipped), keys, a runner."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sop_runner.errors import SopError
from sop_runner.lab import hypervisor
from sop_runner.service.runs import RunService


@pytest.fixture(scope="session")
def hypervisor_lab() -> Iterator[hypervisor.HypervisorStatus]:
    """libvirtd, the pool, the golden image and the operator key; fails (never skips) with the reason.

    Daemons this session started are stopped at its end; a lab that was already running
    (someone's `python -m sop_runner.lab.hypervisor up`) is left as it was.
    """
    try:
        status = hypervisor.up()
    except SopError as exc:
        pytest.fail(f"the hypervisor lab could not start: {exc}\n  fix: {exc.hint}", pytrace=False)
    yield status
    if "libvirtd" in status.started:
        hypervisor.down()


@pytest.fixture(scope="session")
def requester_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SKPD's own SSH key pair: the request carries its public half."""
    d = tmp_path_factory.mktemp("skpd-key")
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "skpd@test", "-f", str(key)], check=True)
    return key


@pytest.fixture
def sop_service(tmp_path: Path, make_runner_config: Callable[..., Path], netbox_env: None) -> RunService:
    """A RunService over the real catalogue, SQLite, the lab NetBox (not reset: names are unique)."""
    from sop_runner.config import load_config, repo_root

    return RunService(load_config(str(make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}",
                                                         repo_root() / "sops"))))
