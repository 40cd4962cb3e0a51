"""Fixtures for the data SOPs: the lab's real database host, scratch repositories, a playbook driver."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datalab import Play, run_playbook

from sop_runner.lab import dbservers


@pytest.fixture(scope="session")
def dbhost() -> Iterator[dbservers.DbServers]:
    """PostgreSQL and MariaDB of the lab, started if needed; never skipped, fails with the reason."""
    try:
        info = dbservers.up()
    except Exception as exc:
        pytest.fail(f"the lab database host could not start: {exc}\n  hint: {getattr(exc, 'hint', '')}",
                    pytrace=False)
    saved = {k: os.environ.get(k) for k in info.env()}
    os.environ.update(info.env())
    yield info
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def playbook(tmp_path: Path) -> Any:
    """run_playbook bound to the test's tmp dir."""
    def _run(name: str, extravars: dict[str, Any], *, check: bool = False) -> Play:
        return run_playbook(name, extravars, tmp_path, check=check)
    return _run


@pytest.fixture
def backup_vars(tmp_path: Path, dbhost: dbservers.DbServers) -> dict[str, Any]:
    """Backup role variables over fresh repositories under tmp_path."""
    return {
        "backup_repository": str(tmp_path / "dc" / "restic"),
        "backup_offsite_repository": str(tmp_path / "offsite" / "restic"),
        "backup_repository_password": "test-" + uuid.uuid4().hex,
        "backup_staging_dir": str(tmp_path / "staging"),
        "backup_state_dir": str(tmp_path / "state"),
        "backup_report_dir": str(tmp_path / "reports"),
        "backup_window": "",
    }
