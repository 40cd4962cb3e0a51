"""Fixtures for the hypervisor tests: the libvirt lab (started once, never skipped), playbooks."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_runner.errors import SopError
from sop_runner.lab import hypervisor


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


@pytest.fixture(scope="session")
def netbox_env(netbox_lab: tuple[str, str]) -> Iterator[None]:
    """NETBOX_URL/NETBOX_TOKEN in the environment the playbooks inherit."""
    url, token = netbox_lab
    old = {k: os.environ.get(k) for k in ("NETBOX_URL", "NETBOX_TOKEN")}
    os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"] = url, token
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v




@pytest.fixture(scope="session")
def persona_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys and users of the lab personas, made once per session."""
    from sop_runner.service.personas import init_personas

    d = tmp_path_factory.mktemp("personas")
    init_personas(d)
    return d


@pytest.fixture(scope="module")
def sop_service(tmp_path_factory: pytest.TempPathFactory, persona_dir: Path, netbox_env: None) -> object:
    """A RunService over the real catalogue, SQLite, the lab NetBox (not reset: names are unique)."""
    import yaml

    from sop_runner.config import load_config, repo_root
    from sop_runner.service.runs import RunService

    tmp_path = tmp_path_factory.mktemp("runner")
    base = yaml.safe_load((persona_dir / "sop.yml").read_text(encoding="utf-8"))
    users = []
    for item in base["users"]:
        user = dict(item)
        for key in ("public_key_file", "private_key_file"):
            if key in user:
                user[key] = str((persona_dir / user[key]).resolve())
        users.append(user)
    cfg = {"home": str(tmp_path / "home"), "database": f"sqlite:///{tmp_path / 'sop.db'}",
           "catalogue": str(repo_root() / "sops"), "users": users, "secret_env": ["NETBOX_TOKEN"]}
    path = tmp_path / "sop.yml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return RunService(load_config(str(path)))
