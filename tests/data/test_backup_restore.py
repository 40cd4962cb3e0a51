"""Backup (SOP 12/34) and restore (SOP 13) against the lab's real PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datalab import mariadb, psql, restore_vars_from, unique

from sop_runner.lab.dbservers import DbServers

PG_DIGEST = ("SELECT 'penduduk', count(*), sum(hashtextextended(t::text, 0)::numeric) FROM penduduk t "
             "UNION ALL SELECT 'kunjungan', count(*), sum(hashtextextended(t::text, 0)::numeric) FROM kunjungan t "
             "ORDER BY 1")


@pytest.fixture
def pg_db(dbhost: DbServers) -> Iterator[str]:
    """A PostgreSQL database with real rows (a few MB, so restic's chunks are shared between runs)."""
    name = unique("simpus")
    psql(dbhost, "postgres", f"CREATE DATABASE {name}")
    psql(dbhost, name, """
        CREATE TABLE penduduk (nik varchar(16) PRIMARY KEY, nama text NOT NULL, lahir date, alamat text);
        INSERT INTO penduduk SELECT lpad(g::text, 16, '0'), 'Warga ' || g, date '1960-01-01' + g % 20000,
               repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
        CREATE TABLE kunjungan (id bigserial PRIMARY KEY, nik varchar(16) REFERENCES penduduk, tanggal date,
               diagnosa text);
        INSERT INTO kunjungan (nik, tanggal, diagnosa) SELECT lpad((g % 30000 + 1)::text, 16, '0'),
               date '2024-01-01' + g % 700, 'ICD-' || (g % 997) FROM generate_series(1, 40000) g;
    """)
    yield name
    psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name}_restore WITH (FORCE)")


@pytest.fixture
def maria_db(dbhost: DbServers) -> Iterator[str]:
    """A MariaDB database with real rows."""
    name = unique("simpeg")
    mariadb(dbhost, "", f"CREATE DATABASE {name}")
    mariadb(dbhost, name, """
        CREATE TABLE pegawai (nip CHAR(18) PRIMARY KEY, nama VARCHAR(100), golongan VARCHAR(5)) ENGINE=InnoDB;
        INSERT INTO pegawai SELECT LPAD(seq, 18, '0'), CONCAT('Pegawai ', seq), CONCAT('III/', CHAR(97 + seq % 4))
               FROM seq_1_to_5000;
        CREATE TABLE cuti (id INT AUTO_INCREMENT PRIMARY KEY, nip CHAR(18), hari INT) ENGINE=InnoDB;
        INSERT INTO cuti (nip, hari) SELECT LPAD(seq % 5000 + 1, 18, '0'), seq % 12 FROM seq_1_to_8000;
    """)
    yield name
    mariadb(dbhost, "", f"DROP DATABASE IF EXISTS {name}")
    mariadb(dbhost, "", f"DROP DATABASE IF EXISTS {name}_restore")


def _pg(name: str) -> dict[str, Any]:
    return {"backup_policy": f"t-{name}", "backup_engine": "postgresql", "backup_databases": [name]}


@pytest.mark.slow
def test_backup_then_restore_brings_deleted_rows_back(playbook: Any, backup_vars: dict[str, Any], pg_db: str,
                                                      dbhost: DbServers, tmp_path: Path) -> None:
    bv = backup_vars | _pg(pg_db)
    plan = playbook("sop12_backup.yml", bv, check=True)
    assert plan.rc == 0 and plan.failed == 0, plan.out
    assert plan.changed >= 1, "check mode must report the backup it would make"
    assert not Path(bv["backup_repository"]).exists(), "check mode must not create the repository"

    before = psql(dbhost, pg_db, PG_DIGEST)
    first = playbook("sop12_backup.yml", bv)
    assert first.rc == 0, first.out
    report = json.loads((tmp_path / "reports" / f"backup-t-{pg_db}.json").read_text())
    assert report["test_restore"]["databases"][pg_db] == report["test_restore"]["databases"][pg_db] | {
        "tables": 2, "rows": 70000, "usable": True}
    assert report["offsite_snapshot"] and (tmp_path / "reports" / f"backup-t-{pg_db}.md").is_file()
    again = playbook("sop12_backup.yml", bv)
    assert again.rc == 0 and again.changed == 0, "a second apply of the same run must change nothing"

    psql(dbhost, pg_db, "DELETE FROM kunjungan WHERE id % 3 = 0; DELETE FROM penduduk WHERE NOT EXISTS "
                        "(SELECT 1 FROM kunjungan k WHERE k.nik = penduduk.nik) AND nik > '0000000000020000'")
    assert psql(dbhost, pg_db, PG_DIGEST) != before

    rv = restore_vars_from(bv) | {"restore_engine": "postgresql", "restore_database": pg_db,
                                  "restore_target": "in_place"}
    rplan = playbook("sop13_restore.yml", rv, check=True)
    assert rplan.rc == 0 and rplan.changed >= 1, rplan.out
    assert psql(dbhost, pg_db, PG_DIGEST) != before, "check mode must not restore"
    restored = playbook("sop13_restore.yml", rv)
    assert restored.rc == 0, restored.out
    assert psql(dbhost, pg_db, PG_DIGEST) == before, "the restore must bring every row back, checksums equal"
    assert playbook("sop13_restore.yml", rv).changed == 0, "restoring again changes nothing"


def test_restore_from_offsite_when_local_repository_is_gone(playbook: Any, backup_vars: dict[str, Any],
                                                            maria_db: str, dbhost: DbServers) -> None:
    bv = backup_vars | {"backup_policy": f"t-{maria_db}", "backup_engine": "mariadb", "backup_databases": [maria_db]}
    assert playbook("sop12_backup.yml", bv).rc == 0
    before = mariadb(dbhost, maria_db, "CHECKSUM TABLE pegawai, cuti EXTENDED")
    Path(bv["backup_repository"]).rename(Path(bv["backup_repository"]).with_name("restic.lost"))
    rv = restore_vars_from(bv) | {"restore_engine": "mariadb", "restore_database": maria_db,
                                  "restore_target": "beside"}
    res = playbook("sop13_restore.yml", rv)
    assert res.rc == 0, res.out
    assert "second location" in res.out
    after = mariadb(dbhost, f"{maria_db}_restore", "CHECKSUM TABLE pegawai, cuti EXTENDED")
    assert [r[1] for r in after] == [r[1] for r in before]


def test_restore_refused_when_nothing_was_backed_up(playbook: Any, backup_vars: dict[str, Any],
                                                    pg_db: str) -> None:
    assert playbook("sop12_backup.yml", backup_vars | _pg(pg_db)).rc == 0
    rv = restore_vars_from(backup_vars) | {"restore_engine": "postgresql", "restore_database": "tidak_pernah",
                                           "restore_target": "beside"}
    res = playbook("sop13_restore.yml", rv)
    assert res.rc != 0
    assert "no successful backup of tidak_pernah" in res.out


def test_corrupted_repository_is_caught_by_the_test_restore(playbook: Any, backup_vars: dict[str, Any],
                                                            pg_db: str) -> None:
    bv = backup_vars | _pg(pg_db)
    assert playbook("sop12_backup.yml", bv | {"backup_run_id": "run-1"}).rc == 0
    packs = [p for p in Path(bv["backup_repository"], "data").rglob("*") if p.is_file()]
    assert packs
    for pack in packs:  # bit rot: flip bytes all through every pack file
        data = bytearray(pack.read_bytes())
        for i in range(64, len(data), 4093):
            data[i] ^= 0xFF
        pack.write_bytes(bytes(data))
    # Same data, next run: restic reuses the rotten chunks, and only the test restore reads them.
    res = playbook("sop12_backup.yml", bv | {"backup_run_id": "run-2"})
    assert res.rc != 0, res.out
    assert "FAILED and must not be trusted" in res.out
    assert "could not read" in res.out or "checksum" in res.out or "differs" in res.out, res.out
    assert not Path(bv["backup_state_dir"], "runs", f"t-{pg_db}-run-2.json").exists(), \
        "a failed backup must not leave a result that makes the next apply a no-op"


def test_backup_refused_outside_the_window_or_without_space(playbook: Any, backup_vars: dict[str, Any],
                                                            pg_db: str) -> None:
    from datetime import datetime, timedelta

    later = datetime.now() + timedelta(hours=3)
    window = f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00"
    res = playbook("sop12_backup.yml", backup_vars | _pg(pg_db) | {"backup_window": window}, check=True)
    assert res.rc != 0 and "outside the backup window" in res.out, res.out
    res = playbook("sop12_backup.yml", backup_vars | _pg(pg_db) | {"backup_space_margin": 1e9}, check=True)
    assert res.rc != 0 and "not enough space" in res.out, res.out
