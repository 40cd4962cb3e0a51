"""Fixtures for runner tests: a fresh runner home per test, lab personas, SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sop_runner.config import load_config, repo_root
from sop_runner.service.personas import init_personas
from sop_runner.service.runs import RunService

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def persona_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys for the lab personas, made once per session."""
    d = tmp_path_factory.mktemp("personas")
    init_personas(d)
    return d


def _pg_url() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    from sop_runner import lab

    lab.up()
    name = "sop_test_" + uuid.uuid4().hex[:8]
    admin = create_engine(lab.postgres_admin_url("postgres").replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield lab.postgres_admin_url(name).replace("postgresql://", "postgresql+psycopg://")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.netbox)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests run on SQLite and on PostgreSQL (the lab's cluster)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sop.db'}"
    else:
        yield from _pg_url()


def write_config(tmp_path: Path, persona_dir: Path, database: str, catalogue: Path,
                 extra_users: list[dict[str, Any]] | None = None) -> Path:
    """A runner config whose users are the personas (plus extras) with absolute key paths."""
    base = yaml.safe_load((persona_dir / "sop.yml").read_text(encoding="utf-8"))
    users = []
    for item in base["users"] + (extra_users or []):
        user = dict(item)
        for key in ("public_key_file", "private_key_file"):
            if key in user:
                user[key] = str((persona_dir / user[key]).resolve())
        users.append(user)
    cfg = {"home": str(tmp_path / "home"), "database": database, "catalogue": str(catalogue), "users": users,
           "secret_env": ["NETBOX_TOKEN", "SOP_TEST_SECRET"]}
    path = tmp_path / "sop.yml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path, persona_dir: Path, database_url: str) -> Path:
    """A runner configuration over the fixture catalogue."""
    extra = [{"username": "ani.ganda", "name": "Ani (requester and kasi)", "roles": ["requester", "kasi"],
              "tenant": "diskominfo", "public_key_file": "keys/rina.kasi.pub", "private_key_file": "keys/rina.kasi"}]
    return write_config(tmp_path, persona_dir, database_url, FIXTURES / "sops", extra)


@pytest.fixture
def svc(config_path: Path) -> RunService:
    """The run service under test."""
    return RunService(load_config(str(config_path)))


@pytest.fixture
def e2e_config(tmp_path: Path, persona_dir: Path, netbox_lab: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runner config over the real catalogue, talking to the lab NetBox (reset first)."""
    from sop_runner import lab

    lab.reset()
    url, token = netbox_lab
    monkeypatch.setenv("NETBOX_URL", url)
    monkeypatch.setenv("NETBOX_TOKEN", token)
    return write_config(tmp_path, persona_dir, f"sqlite:///{tmp_path / 'sop.db'}", repo_root() / "sops")


@pytest.fixture
def e2e(e2e_config: Path) -> RunService:
    """The run service over the real catalogue."""
    return RunService(load_config(str(e2e_config)))
