"""SOPs 12, 13, 30, 32 and 37 through the runner (`sop`'s RunService) against the lab's real
PostgreSQL and MariaDB: request, plan, the approval that binds it, apply, paperwork, closed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import RUNNER_SECRETS
from datalab import mariadb, psql, run_playbook, unique

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError
from sop_runner.lab.dbservers import DbServers
from sop_runner.service import audit
from sop_runner.service.runs import RunService

pytestmark = pytest.mark.slow

DIGEST = ("SELECT count(*), sum(hashtextextended(t::text, 0)::numeric) FROM pasien t")
PG_PRIVS = ("SELECT c.relname || ':' || a.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
            " aclexplode(c.relacl) a WHERE n.nspname = 'public' AND a.grantee = "
            "(SELECT oid FROM pg_roles WHERE rolname = '{}') ORDER BY 1")


def _closed_and_clean(runner: RunService, run_id: str, docs: set[str]) -> None:
    """The run closed as completed with its documents, no secret in any file, the audit chain intact."""
    state = runner.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, state
    assert docs <= set(state.documents)
    for name in RUNNER_SECRETS:
        secret = os.environ[name].encode()
        leaked = [p for p in runner.cfg.home.rglob("*") if p.is_file() and secret in p.read_bytes()]
        assert not leaked, f"{name} leaked into {leaked[:3]}"
    assert audit.verify(runner.cfg, runner.store)[1] == []


def _outputs(runner: RunService, run_id: str, step: int) -> Path:
    return runner.cfg.home / "runs" / run_id / "outputs" / f"step{step}"


def _backup(tmp_path: Path, policy: str, engine: str, database: str) -> None:
    """A verified backup through the backup role into the repositories the runner uses."""
    play = run_playbook("sop12_backup.yml", {
        "backup_policy": policy, "backup_engine": engine, "backup_databases": [database],
        "backup_repository": os.environ["SOP_BACKUP_REPOSITORY"],
        "backup_offsite_repository": os.environ["SOP_BACKUP_OFFSITE_REPOSITORY"],
        "backup_staging_dir": str(tmp_path / "staging"), "backup_state_dir": str(tmp_path / "bstate"),
        "backup_report_dir": str(tmp_path / "reports")}, tmp_path)
    assert play.rc == 0, play.out


@pytest.fixture
def pg_db(dbhost: DbServers) -> Iterator[str]:
    """A PostgreSQL database with rows; dropped afterwards."""
    name = unique("simpus")
    psql(dbhost, "postgres", f"CREATE DATABASE {name}")
    psql(dbhost, name, "CREATE TABLE pasien (id int PRIMARY KEY, nama text); "
                       "INSERT INTO pasien SELECT g, 'Pasien ' || g FROM generate_series(1, 3000) g;")
    yield name
    psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_sop12_operator_backup_approved_by_a_second_operator(data_runner: RunService, pg_db: str,
                                                             tmp_path: Path) -> None:
    runner = data_runner
    folder = tmp_path / "srv" / "simpus"
    folder.mkdir(parents=True)
    (folder / "config.ini").write_text("[db]\nname = simpus\n", encoding="utf-8")
    now = datetime.now()
    window = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=2):%H:%M}"
    policy = f"harian-{pg_db}"
    run_id = runner.request("wonosobo-12", "tono.operator", {
        "objek_backup": [pg_db, str(folder)], "engine": "postgresql", "policy": policy,
        "jadwal": "harian 22:00", "jenis_backup": "incremental", "media": "disk", "backup_window": window,
        "retensi_hari": "7", "lokasi_penyimpanan": "repositori kedua (lab offsite)"}).run_id
    runner.complete(run_id, "tono.operator", note="repositori disk siap")
    runner.complete(run_id, "tono.operator", note="tidak ada job lain")
    runner.plan(run_id, "tono.operator")
    sop_plan: dict[str, Any] = runner.state(run_id).plans[4].stats["sop_plan"]
    assert sop_plan["databases"] == [pg_db] and sop_plan["paths"] == [str(folder)]
    assert sop_plan["window"] == window and sop_plan["retention_days"] == 7
    with pytest.raises(Exception, match="may not decide or approve"):
        runner.approve(run_id, "tono.operator", True, "sendiri", plan_hash=runner.reviewable_plan(run_id))
    runner.approve(run_id, "budi.teknis", True, "kapasitas dan window cukup", plan_hash=runner.reviewable_plan(run_id))
    runner.apply(run_id, "tono.operator")
    report_file = _outputs(runner, run_id, 4) / f"backup-{policy}.json"
    report = json.loads(report_file.read_text())
    assert report["test_restore"]["databases"][pg_db]["rows"] == 3000
    assert report["test_restore"]["databases"][pg_db]["usable"] is True
    assert report["offsite_snapshot"]
    runner.decide(run_id, "budi.teknis", "ya", "uji restore: semua tabel sama")
    runner.complete(run_id, "tono.operator", note="salinan di repositori kedua", evidence=[report_file])
    runner.complete(run_id, "tono.operator", note="laporan berkala")
    _closed_and_clean(runner, run_id, {"laporan_berkala"})


def test_sop30_application_files_backup(data_runner: RunService, tmp_path: Path) -> None:
    runner = data_runner
    app = tmp_path / "srv" / "sikd"
    app.mkdir(parents=True)
    for i in range(20):
        (app / f"modul{i}.php").write_text(f"<?php echo {i};\n" * 50, encoding="utf-8")
    run_id = runner.request("wonosobo-30", "agus.dinkes", {
        "skpd": "dinkes", "application_name": "SIKD Dinkes", "paths": [str(app)], "scope": "code_and_config",
        "retention_days": "14", "business_process": "Surat dinas elektronik", "reason": "Sebelum pembaruan"}).run_id
    runner.complete(run_id, "rina.kasi", note="kapasitas cukup")
    runner.plan(run_id, "rina.kasi")
    sop_plan = runner.state(run_id).plans[5].stats["sop_plan"]
    assert sop_plan["policy"] == "sop30-dinkes-sikd-dinkes" and sop_plan["paths"] == [str(app)]
    assert sop_plan["databases"] == []
    runner.approve(run_id, "hendra.kabid", True, "dapat dibackup", plan_hash=runner.reviewable_plan(run_id))
    runner.apply(run_id, "rina.kasi")
    report = json.loads((_outputs(runner, run_id, 5) / "backup-sop30-dinkes-sikd-dinkes.json").read_text())
    assert report["test_restore"]["paths"][str(app)]["usable"] is True
    runner.complete(run_id, "sutrisno.kadis", note="surat pemberitahuan dikirim")
    _closed_and_clean(runner, run_id, {"surat_pemberitahuan"})


def test_sop13_restore_from_the_second_location_accepted_by_the_requester(
        data_runner: RunService, pg_db: str, dbhost: DbServers, tmp_path: Path) -> None:
    runner = data_runner
    policy = f"sop34-dinkes-{pg_db}"
    _backup(tmp_path, policy, "postgresql", pg_db)
    before = psql(dbhost, pg_db, DIGEST)
    local = Path(os.environ["SOP_BACKUP_REPOSITORY"])
    local.rename(local.with_name("restic.hilang"))  # the data centre's copy is gone
    psql(dbhost, pg_db, "DELETE FROM pasien WHERE id % 4 = 0")
    run_id = runner.request("wonosobo-13", "agus.dinkes", {
        "skpd": "dinkes", "server": "db-lab", "engine": "postgresql", "database_name": pg_db, "policy": policy,
        "justification": "Data pasien terhapus"}).run_id
    runner.plan(run_id, "budi.teknis")
    sop_plan = runner.state(run_id).plans[5].stats["sop_plan"]
    assert sop_plan["source"] == "offsite" and sop_plan["target"] == "in_place"
    runner.approve(run_id, "budi.teknis", True, "backup terverifikasi ada di lokasi kedua", plan_hash=runner.reviewable_plan(run_id))
    runner.decide(run_id, "budi.teknis", "tidak", "salinan lokal hilang")
    evidence = tmp_path / "snapshot-offsite.txt"
    evidence.write_text(f"{sop_plan['snapshot']} {sop_plan['snapshot_time']} offsite\n", encoding="utf-8")
    runner.complete(run_id, "budi.teknis", note="diambil dari lokasi kedua", evidence=[evidence])
    assert psql(dbhost, pg_db, DIGEST) != before
    runner.apply(run_id, "budi.teknis")
    assert psql(dbhost, pg_db, DIGEST) == before, "every row back, checksum equal"
    report = json.loads((_outputs(runner, run_id, 5) / f"restore-{pg_db}.json").read_text())
    assert report["source"] == "offsite" and report["local_repository_readable"] in (False, "False")
    state = runner.state(run_id)
    assert state.current == 6
    with pytest.raises(Exception, match="done by the requester"):
        runner.complete(run_id, "budi.teknis", note="bukan pemohon")
    accepted = tmp_path / "uji-pemohon.txt"
    accepted.write_text("3000 baris pasien kembali, aplikasi SIMPUS dapat membuka data\n", encoding="utf-8")
    runner.complete(run_id, "agus.dinkes", note="data sesuai dan dapat digunakan", evidence=[accepted])
    runner.complete(run_id, "agus.dinkes", note="berita acara ditandatangani")
    runner.complete(run_id, "budi.teknis", note="laporan dikirim")
    _closed_and_clean(runner, run_id, {"berita_acara", "laporan_rekap"})


def _create_with_record(tmp_path: Path, engine: str, name: str) -> Path:
    """A database created by SOP 31's role (with its catalogue record) and given rows."""
    play = run_playbook("sop3x_database.yml", {
        "db_lifecycle_action": "create", "db_lifecycle_engine": engine, "db_lifecycle_database": name,
        "db_lifecycle_owner": f"{name}_own", "db_lifecycle_owner_skpd": "dinkes",
        "db_lifecycle_description": "Data pasien", "db_lifecycle_fields": "pasien.id int Nomor\npasien.nama text Nama",
        "db_lifecycle_state_dir": os.environ["SOP_DB_STATE_DIR"]}, tmp_path)
    assert play.rc == 0, play.out
    record = Path(os.environ["SOP_DB_STATE_DIR"]) / "catalogue" / f"{engine}-{name}.json"
    assert record.is_file()
    return record


def _to_the_drop(runner: RunService, run_id: str, backup_answer: str) -> None:
    runner.complete(run_id, "hendra.kabid", note="tidak beririsan dengan data SKPD lain")
    runner.plan(run_id, "rina.kasi")
    assert runner.state(run_id).plans[7].stats["sop_plan"]["backup_decision_step"] == 5
    runner.approve(run_id, "hendra.kabid", True, "penghapusan dapat diteruskan", plan_hash=runner.reviewable_plan(run_id))
    runner.complete(run_id, "rina.kasi", note="identifikasi backup")
    runner.decide(run_id, "hendra.kabid", backup_answer, "keputusan backup")


def test_sop32_drop_refused_without_a_verified_backup_then_done_with_one(
        data_runner: RunService, dbhost: DbServers, tmp_path: Path) -> None:
    runner = data_runner
    name = unique("lama")
    record = _create_with_record(tmp_path, "postgresql", name)
    psql(dbhost, name, "CREATE TABLE pasien (id int, nama text); "
                       "INSERT INTO pasien SELECT g, 'P' || g FROM generate_series(1, 500) g")
    try:
        run_id = runner.request("wonosobo-32", "agus.dinkes", {
            "skpd": "dinkes", "database_name": name, "engine": "postgresql",
            "justification": "Aplikasi lama dihentikan"}).run_id
        _to_the_drop(runner, run_id, "ya")
        with pytest.raises(ConflictError, match=r"REFUSED: .* not dropped without a verified backup"):
            runner.apply(run_id, "rina.kasi")
        assert psql(dbhost, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == [["1"]]
        assert record.is_file() and runner.state(run_id).status is RunStatus.FAILED

        _backup(tmp_path, f"sop34-dinkes-{name}", "postgresql", name)  # SOP 34, by the role
        runner.resume(run_id, "rina.kasi")  # a failed apply goes back to the approval (step 3)
        runner.plan(run_id, "rina.kasi")
        runner.approve(run_id, "hendra.kabid", True, "penghapusan dapat diteruskan, backup ada", plan_hash=runner.reviewable_plan(run_id))
        runner.complete(run_id, "rina.kasi", note="backup terverifikasi ada")
        runner.decide(run_id, "hendra.kabid", "ya", "backup diperlukan dan sudah ada")
        runner.apply(run_id, "rina.kasi")
        assert psql(dbhost, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == []
        assert not record.exists(), "the database catalogue record follows the drop"
        runner.complete(run_id, "hendra.kabid", note="draft diperiksa")
        runner.complete(run_id, "sutrisno.kadis", note="surat dikirim")
        _closed_and_clean(runner, run_id, {"laporan", "surat_jawaban"})
    finally:
        psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE); DROP ROLE IF EXISTS {name}_own")


def test_sop32_kabid_decides_no_backup(data_runner: RunService, dbhost: DbServers, tmp_path: Path) -> None:
    runner = data_runner
    name = unique("lama")
    record = _create_with_record(tmp_path, "mariadb", name)
    try:
        run_id = runner.request("wonosobo-32", "agus.dinkes", {
            "skpd": "dinkes", "database_name": name, "engine": "mariadb", "backup_requested": "false",
            "justification": "Database uji coba"}).run_id
        _to_the_drop(runner, run_id, "tidak")
        runner.complete(run_id, "hendra.kabid", note="SKPD tidak memerlukan backup")
        runner.apply(run_id, "rina.kasi")
        assert mariadb(dbhost, "", f"SHOW DATABASES LIKE '{name}'") == []
        assert not record.exists()
        runner.complete(run_id, "hendra.kabid", note="draft diperiksa")
        runner.complete(run_id, "sutrisno.kadis", note="surat dikirim")
        _closed_and_clean(runner, run_id, {"laporan_koordinasi", "laporan", "surat_jawaban"})
    finally:
        mariadb(dbhost, "", f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS {name}_own@'%'")


def test_sop37_revoke_leaves_exactly_the_privileges_held_before_the_grant(
        data_runner: RunService, pg_db: str, dbhost: DbServers, tmp_path: Path) -> None:
    runner = data_runner
    account = f"{pg_db}_ro"
    psql(dbhost, pg_db, f"CREATE TABLE obat (id int); CREATE ROLE {account} LOGIN; GRANT SELECT ON obat TO {account}")
    try:
        before = psql(dbhost, pg_db, PG_PRIVS.format(account))
        assert before == [["obat:SELECT"]]
        grant = run_playbook("sop3x_database.yml", {  # SOP 36's grant, by the role
            "db_lifecycle_action": "grant", "db_lifecycle_engine": "postgresql", "db_lifecycle_database": pg_db,
            "db_lifecycle_grantee": account, "db_lifecycle_privileges": ["SELECT", "UPDATE"],
            "db_lifecycle_tables": ["pasien", "obat"], "db_lifecycle_state_dir": os.environ["SOP_DB_STATE_DIR"]},
            tmp_path)
        assert grant.rc == 0, grant.out
        granted = psql(dbhost, pg_db, PG_PRIVS.format(account))
        assert granted == [["obat:SELECT"], ["obat:UPDATE"], ["pasien:SELECT"], ["pasien:UPDATE"]]

        run_id = runner.request("wonosobo-37", "agus.dinkes", {
            "skpd": "dinkes", "database": pg_db, "engine": "postgresql", "account": account,
            "justification": "Aplikasi mitra tidak lagi dipakai"}).run_id
        runner.complete(run_id, "hendra.kabid", note="tidak berdampak pada layanan lain")
        runner.plan(run_id, "rina.kasi")
        plan = runner.state(run_id).plans[4]
        assert plan.stats["sop_plan"]["grantee"] == account and plan.changed >= 1
        runner.approve(run_id, "hendra.kabid", True, "pencabutan dapat diteruskan", plan_hash=runner.reviewable_plan(run_id))
        runner.apply(run_id, "rina.kasi")
        assert psql(dbhost, pg_db, PG_PRIVS.format(account)) == before, "exactly what it held before the grant"
        runner.complete(run_id, "rina.kasi", note="draft surat")
        runner.complete(run_id, "sutrisno.kadis", note="surat dikirim")
        _closed_and_clean(runner, run_id, {"laporan_penghapusan_akses", "surat_jawaban"})
    finally:
        psql(dbhost, pg_db, f"DROP OWNED BY {account}")
        psql(dbhost, "postgres", f"DROP ROLE IF EXISTS {account}")
