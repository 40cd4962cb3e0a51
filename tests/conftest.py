"""Shared fixtures: the lab NetBox (started on demand, never skipped) and its API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _timing import pytest_runtest_logreport, pytest_terminal_summary

from sop_runner import lab
from sop_runner.errors import SopError
from sop_runner.lab.lock import session_lock

# Hooks of tests/_timing.py: seconds per folder and the slowest tests, after every run.
__all__ = ["pytest_runtest_logreport", "pytest_terminal_summary"]

# How long a session waits for another session on the same clone to finish with the lab.
_LAB_WAIT_S = 1800.0


@pytest.fixture(scope="session")
def netbox_lab() -> Iterator[tuple[str, str]]:
    """(url, token) of the lab NetBox, started if needed and left running afterwards.

    A lab that cannot start fails the tests that need it, with the reason: a skip would let
    a broken environment pass as green. The session holds the lab alone (other sessions on
    this clone wait), because tests reset it and assert on exact objects.
    """
    try:
        with session_lock(lab.LabPaths.default(), timeout=_LAB_WAIT_S):
            status = lab.up()
            if not (status.netbox_url and status.netbox_token):
                pytest.fail(f"the NetBox lab reports no URL/token: {status}", pytrace=False)
            yield status.netbox_url, status.netbox_token
    except SopError as exc:
        pytest.fail(f"the NetBox lab could not start: {exc}\n  fix: {exc.hint}", pytrace=False)


@pytest.fixture(scope="session")
def netbox_api(netbox_lab: tuple[str, str]) -> Any:
    """A pynetbox API on the lab NetBox (admin v2 token)."""
    import pynetbox

    url, token = netbox_lab
    return pynetbox.api(url, token=token)


@pytest.fixture(scope="module")
def netbox_env(netbox_lab: tuple[str, str]) -> Iterator[None]:
    """NETBOX_URL/NETBOX_TOKEN of the lab in the environment playbooks inherit (restored afterwards)."""
    import os

    url, token = netbox_lab
    old = {k: os.environ.get(k) for k in ("NETBOX_URL", "NETBOX_TOKEN")}
    os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"] = url, token
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def netbox_reset(netbox_lab: tuple[str, str]) -> float:
    """Reset the lab to the seed state once for the module; returns the seconds it took.

    Use it with ``pytestmark = pytest.mark.usefixtures("netbox_reset")`` so each module starts
    from the same data no matter what earlier modules created.
    """
    return lab.reset()


# -- runner configuration with the lab personas (shared by the runner and domain suites) ------


@pytest.fixture(scope="session")
def persona_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SSH keys and a base runner config for the lab personas, made once per session."""
    from sop_runner.service.personas import init_personas

    d = tmp_path_factory.mktemp("personas")
    init_personas(d)
    return d


@pytest.fixture
def make_runner_config(persona_dir: Path) -> Callable[..., Path]:
    """Write a runner config: the personas (plus extras), a database URL and a catalogue."""

    def make(directory: Path, database: str, catalogue: Path, extra_users: list[dict[str, Any]] | None = None,
             inventory: str | None = None) -> Path:
        import yaml

        from sop_runner.adapters.signing.sshsig import generate_key

        base = yaml.safe_load((persona_dir / "sop.yml").read_text(encoding="utf-8"))
        users = []
        for item in base["users"] + (extra_users or []):
            user = dict(item)
            if not {"public_key", "public_key_file", "private_key_file"} & user.keys():
                # Every action is signed: a test's extra person gets a key of their own, unless the
                # test gives key fields itself (e.g. a public key only, to test a refusal).
                generate_key(persona_dir / "keys" / user["username"], f"{user['username']}@sop-lab")
                user["public_key_file"] = f"keys/{user['username']}.pub"
                user["private_key_file"] = f"keys/{user['username']}"
            for key in ("public_key_file", "private_key_file"):
                if key in user:
                    user[key] = str((persona_dir / user[key]).resolve())
            users.append(user)
        cfg: dict[str, Any] = {"home": str(directory / "home"), "database": database, "catalogue": str(catalogue),
                               "users": users, "secret_env": ["NETBOX_TOKEN", "SOP_TEST_SECRET"]}
        if inventory:
            cfg["inventory"] = inventory
        path = directory / "sop.yml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        return path

    return make


@pytest.fixture
def catalogue_runner(tmp_path: Path, make_runner_config: Callable[..., Path]) -> Callable[..., Any]:
    """Make a RunService over the real catalogue (SQLite in tmp_path), lab personas plus extras."""
    from sop_runner.config import load_config, repo_root
    from sop_runner.service.runs import RunService

    def make(extra_users: list[dict[str, Any]] | None = None) -> RunService:
        cfg = make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}", repo_root() / "sops", extra_users)
        return RunService(load_config(str(cfg)))

    return make
