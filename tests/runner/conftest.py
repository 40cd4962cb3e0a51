"""Fixtures for runner tests: a fresh runner home per test, lab personas, SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sop_runner.config import load_config, repo_root
from sop_runner.service.runs import RunService

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The store contract (chain, tampering, signatures) runs on SQLite and PostgreSQL; the flow
    on SQLite only: a module opts in to both stores with ``BOTH_STORES = True``."""
    if "database_url" not in metafunc.fixturenames:
        return
    stores = ["sqlite"]
    if getattr(metafunc.module, "BOTH_STORES", False):
        stores.append(pytest.param("postgresql", marks=pytest.mark.netbox))  # type: ignore[arg-type]
    metafunc.parametrize("database_url", stores, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh runner database: SQLite in tmp_path, or a new database in the lab's PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'sop.db'}"
    else:
        yield from _pg_url()


@pytest.fixture
def config_path(tmp_path: Path, database_url: str, make_runner_config: Any) -> Path:
    """A runner configuration over the fixture catalogue."""
    extra = [{"username": "ani.ganda", "name": "Ani (requester and kasi)", "roles": ["requester", "kasi"],
              "tenant": "diskominfo", "public_key_file": "keys/rina.kasi.pub", "private_key_file": "keys/rina.kasi"}]
    return make_runner_config(tmp_path, database_url, FIXTURES / "sops", extra)


@pytest.fixture
def svc(config_path: Path) -> RunService:
    """The run service under test."""
    return RunService(load_config(str(config_path)))


@pytest.fixture
def e2e_config(
    tmp_path: Path, netbox_lab: tuple[str, str], monkeypatch: pytest.MonkeyPatch, make_runner_config: Any
) -> Path:
    """A runner config over the real catalogue, talking to the lab NetBox (reset first)."""
    from sop_runner import lab

    lab.reset()
    url, token = netbox_lab
    monkeypatch.setenv("NETBOX_URL", url)
    monkeypatch.setenv("NETBOX_TOKEN", token)
    return make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}", repo_root() / "sops")


@pytest.fixture
def e2e(e2e_config: Path) -> RunService:
    """The run service over the real catalogue."""
    return RunService(load_config(str(e2e_config)))
