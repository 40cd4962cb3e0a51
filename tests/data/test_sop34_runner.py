"""SOP 34 (Backup Database) through the runner, from the SKPD's request to the closed run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from datalab import psql, unique

from sop_runner.config import load_config, repo_root
from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.lab.dbservers import DbServers
from sop_runner.service import audit
from sop_runner.service.personas import init_personas
from sop_runner.service.runs import RunService

pytestmark = pytest.mark.slow
SECRETS = ["SOP_DB_PASSWORD", "SOP_BACKUP_PASSWORD"]


@pytest.fixture
def runner(tmp_path: Path, dbhost: DbServers, monkeypatch: pytest.MonkeyPatch) -> RunService:
    """A runner over the real catalogue whose backups go to repositories under tmp_path."""
    personas = tmp_path / "personas"
    init_personas(personas)
    base = yaml.safe_load((personas / "sop.yml").read_text(encoding="utf-8"))
    users = []
    for item in base["users"]:
        user = dict(item)
        for key in ("public_key_file", "private_key_file"):
            if key in user:
                user[key] = str((personas / user[key]).resolve())
        users.append(user)
    cfg = {"home": str(tmp_path / "home"), "database": f"sqlite:///{tmp_path / 'sop.db'}",
           "catalogue": str(repo_root() / "sops"), "users": users, "secret_env": SECRETS}
    path = tmp_path / "sop.yml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    monkeypatch.setenv("SOP_BACKUP_REPOSITORY", str(tmp_path / "dc" / "restic"))
    monkeypatch.setenv("SOP_BACKUP_OFFSITE_REPOSITORY", str(tmp_path / "offsite" / "restic"))
    return RunService(load_config(str(path)))


@pytest.fixture
def database(dbhost: DbServers) -> Iterator[str]:
    """An SKPD database with rows."""
    name = unique("sikda")
    psql(dbhost, "postgres", f"CREATE DATABASE {name}")
    psql(dbhost, name, "CREATE TABLE pasien (id int PRIMARY KEY, nama text); "
                       "INSERT INTO pasien SELECT g, 'Pasien ' || g FROM generate_series(1, 2500) g;")
    yield name
    psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_sop34_request_to_closed_with_a_verified_backup(runner: RunService, database: str, tmp_path: Path) -> None:
    run_id = runner.request("wonosobo-34", "agus.dinkes", {
        "skpd": "dinkes", "database_name": database, "engine": "postgresql", "retention_days": "14",
        "justification": "Backup sebelum migrasi SIKDA"}).run_id
    runner.complete(run_id, "rina.kasi", note="dapat difasilitasi")
    runner.plan(run_id, "budi.teknis")
    plan = runner.state(run_id).plans[4]
    sop_plan: dict[str, Any] = plan.stats["sop_plan"]
    assert sop_plan["databases"] == [database] and sop_plan["engine"] == "postgresql"
    assert sop_plan["policy"] == f"sop34-dinkes-{database}" and sop_plan["retention_days"] == 14
    assert plan.changed >= 1
    assert not (tmp_path / "dc" / "restic").exists(), "the plan must not touch the repository"

    runner.approve(run_id, "hendra.kabid", True, "backup disetujui", plan_hash=runner.reviewable_plan(run_id))
    runner.apply(run_id, "rina.kasi")
    state = runner.state(run_id)
    assert state.current == 5 and 4 in state.applied
    outputs = runner.cfg.home / "runs" / run_id / "outputs" / "step4"
    report = json.loads((outputs / f"backup-sop34-dinkes-{database}.json").read_text())
    assert report["test_restore"]["databases"][database]["rows"] == 2500
    assert report["test_restore"]["databases"][database]["usable"] is True
    assert report["offsite_snapshot"] and report["run_id"] == run_id
    assert (outputs / f"backup-sop34-dinkes-{database}.md").is_file()

    runner.complete(run_id, "rina.kasi", note="draft surat dan laporan")
    runner.complete(run_id, "sutrisno.kadis", note="surat dikirim")
    state = runner.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert {"laporan", "surat_jawaban"} <= set(state.documents)
    for name in SECRETS:
        secret = os.environ[name].encode()
        leaked = [p for p in runner.cfg.home.rglob("*") if p.is_file() and secret in p.read_bytes()]
        assert not leaked, f"{name} leaked into {leaked[:3]}"
    assert audit.verify(runner.cfg, runner.store)[1] == []
