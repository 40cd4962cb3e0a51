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


# A second Operator DC for the internal SOP 12 (four eyes: the operator who starts a run may
# not approve its plan), besides budi.teknis of the lab personas.
EXTRA_OPERATOR = {"username": "tono.operator", "name": "Tono Wibowo, A.Md.", "nip": "199104182019031004",
                  "jabatan": "Operator Data Center", "roles": ["operator_dc"]}
RUNNER_SECRETS = ["SOP_DB_PASSWORD", "SOP_BACKUP_PASSWORD"]


def make_data_runner(tmp_path: Path, inventory: str | None = None) -> Any:
    """A RunService over the real catalogue and the lab personas (plus tono.operator), its
    home and database under tmp_path, optionally with an Ansible inventory."""
    import yaml

    from sop_runner.adapters.signing.sshsig import generate_key
    from sop_runner.config import load_config, repo_root
    from sop_runner.service.personas import init_personas
    from sop_runner.service.runs import RunService

    personas = tmp_path / "personas"
    init_personas(personas)
    base = yaml.safe_load((personas / "sop.yml").read_text(encoding="utf-8"))
    generate_key(personas / "keys" / EXTRA_OPERATOR["username"], f"{EXTRA_OPERATOR['username']}@sop-lab")
    extra = {**EXTRA_OPERATOR, "public_key_file": f"keys/{EXTRA_OPERATOR['username']}.pub",
             "private_key_file": f"keys/{EXTRA_OPERATOR['username']}"}
    users = []
    for item in [*base["users"], extra]:
        user = dict(item)
        for key in ("public_key_file", "private_key_file"):
            if key in user:
                user[key] = str((personas / user[key]).resolve())
        users.append(user)
    cfg: dict[str, Any] = {"home": str(tmp_path / "home"), "database": f"sqlite:///{tmp_path / 'sop.db'}",
                           "catalogue": str(repo_root() / "sops"), "users": users, "secret_env": RUNNER_SECRETS}
    if inventory:
        cfg["inventory"] = inventory
    path = tmp_path / "sop.yml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return RunService(load_config(str(path)))


@pytest.fixture
def data_runner(tmp_path: Path, dbhost: dbservers.DbServers, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runner (make_data_runner) whose backups go to repositories under tmp_path and whose
    catalogue/grant records go to tmp_path/state."""
    monkeypatch.setenv("SOP_BACKUP_REPOSITORY", str(tmp_path / "dc" / "restic"))
    monkeypatch.setenv("SOP_BACKUP_OFFSITE_REPOSITORY", str(tmp_path / "offsite" / "restic"))
    monkeypatch.setenv("SOP_DB_STATE_DIR", str(tmp_path / "state"))
    return make_data_runner(tmp_path)
