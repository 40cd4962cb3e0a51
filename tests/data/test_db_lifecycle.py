"""Database lifecycle (SOP 31/32/33/36/37) against the lab's real PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datalab import mariadb, psql, unique

from sop_runner.lab.dbservers import DbServers

FIELDS = ("pasien.nik varchar(16) NIK pasien\npasien.nama text Nama lengkap\npasien.lahir date Tanggal lahir\n"
          "rujukan.id int Nomor rujukan\nrujukan.tujuan varchar(80) Rumah sakit tujuan")


@pytest.fixture
def lc(tmp_path: Path, backup_vars: dict[str, Any]) -> dict[str, Any]:
    """Common variables: records under tmp_path, the backup repositories of backup_vars."""
    return {"db_lifecycle_state_dir": str(tmp_path / "lc"),
            "db_lifecycle_backup_repository": backup_vars["backup_repository"],
            "db_lifecycle_backup_offsite_repository": backup_vars["backup_offsite_repository"],
            "db_lifecycle_backup_password": backup_vars["backup_repository_password"]}


@pytest.fixture(params=["postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each test on both servers."""
    return str(request.param)


@pytest.fixture
def dbname(engine: str, dbhost: DbServers) -> Iterator[str]:
    """A database name nobody uses; dropped (with its accounts) afterwards."""
    name = unique("lc")
    yield name
    if engine == "postgresql":
        psql(dbhost, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(dbhost, "postgres", f"DROP ROLE IF EXISTS {name}_ro; DROP ROLE IF EXISTS {name}_own")
    else:
        mariadb(dbhost, "", f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS {name}_ro@'%';"
                            f"DROP USER IF EXISTS {name}_own@'%'")


def _create(engine: str, name: str) -> dict[str, Any]:
    return {"db_lifecycle_action": "create", "db_lifecycle_engine": engine, "db_lifecycle_database": name,
            "db_lifecycle_owner": f"{name}_own", "db_lifecycle_owner_skpd": "dinkes",
            "db_lifecycle_description": "Rujukan pasien puskesmas", "db_lifecycle_fields": FIELDS}


def _check_then_apply_twice(playbook: Any, extravars: dict[str, Any]) -> None:
    """Check mode first (must not fail, must report a change), apply, apply again (no change)."""
    plan = playbook("sop3x_database.yml", extravars, check=True)
    assert plan.rc == 0 and plan.changed >= 1, plan.out
    first = playbook("sop3x_database.yml", extravars)
    assert first.rc == 0 and first.changed >= 1, first.out
    second = playbook("sop3x_database.yml", extravars)
    assert second.rc == 0 and second.changed == 0, second.out


def _privileges(db: DbServers, engine: str, name: str, grantee: str) -> list[str]:
    """The account's table privileges, read from the server's catalogue."""
    if engine == "postgresql":
        rows = psql(db, name, "SELECT c.relname || ':' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
                              f"WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = '{grantee}') ORDER BY 1")
    else:
        rows = mariadb(db, "", "SELECT CONCAT(table_name, ':', privilege_type) FROM information_schema.table_privileges "
                               f"WHERE grantee = \"'{grantee}'@'%'\" AND table_schema = '{name}' ORDER BY 1")
    return [r[0] for r in rows]


def test_create_needs_complete_metadata(playbook: Any, lc: dict[str, Any], engine: str, dbname: str) -> None:
    incomplete = lc | _create(engine, dbname) | {"db_lifecycle_fields": "pasien.nik\n"}
    res = playbook("sop3x_database.yml", incomplete, check=True)
    assert res.rc != 0 and "unparsed fields" in res.out, res.out


@pytest.mark.slow
def test_create_table_grant_revoke(playbook: Any, lc: dict[str, Any], engine: str, dbname: str,
                                   dbhost: DbServers, tmp_path: Path) -> None:
    _check_then_apply_twice(playbook, lc | _create(engine, dbname))
    assert (tmp_path / "lc" / "catalogue" / f"{engine}-{dbname}.json").is_file()
    if engine == "postgresql":
        comment = psql(dbhost, "postgres", f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                           f"WHERE datname = '{dbname}'")
        assert comment == [["SKPD dinkes: Rujukan pasien puskesmas"]]
    _check_then_apply_twice(playbook, lc | _create(engine, dbname) | {"db_lifecycle_action": "table",
                                                                      "db_lifecycle_table": "pasien"})
    # SOP 33's form gives the fields without the table name and as one string.
    table = lc | {"db_lifecycle_action": "table", "db_lifecycle_engine": engine, "db_lifecycle_database": dbname,
                  "db_lifecycle_table": "rujukan", "db_lifecycle_fields": "id int Nomor\ntujuan varchar(80) Tujuan"}
    assert playbook("sop3x_database.yml", table).rc == 0
    if engine == "postgresql":
        described = psql(dbhost, dbname, "SELECT col_description('pasien'::regclass, 1)")
    else:
        described = mariadb(dbhost, "", "SELECT column_comment FROM information_schema.columns WHERE "
                                        f"table_schema = '{dbname}' AND table_name = 'pasien' AND column_name = 'nik'")
    assert described == [["NIK pasien"]]

    # The account already reads one table; the grant adds write access to it and read to another.
    grantee = f"{dbname}_ro"
    if engine == "postgresql":
        psql(dbhost, dbname, f"CREATE ROLE {grantee} LOGIN; GRANT SELECT ON pasien TO {grantee}")
    else:
        mariadb(dbhost, "", f"CREATE USER {grantee}@'%'; GRANT SELECT ON {dbname}.pasien TO {grantee}@'%'")
    before = _privileges(dbhost, engine, dbname, grantee)
    assert before == ["pasien:SELECT"]
    grant = lc | {"db_lifecycle_action": "grant", "db_lifecycle_engine": engine, "db_lifecycle_database": dbname,
                  "db_lifecycle_grantee": grantee, "db_lifecycle_tables": ["pasien"],
                  "db_lifecycle_privileges": ["SELECT", "INSERT", "UPDATE"]}
    _check_then_apply_twice(playbook, grant)
    assert _privileges(dbhost, engine, dbname, grantee) == ["pasien:INSERT", "pasien:SELECT", "pasien:UPDATE"]
    # As the runner passes them: comma-separated strings.
    more = grant | {"db_lifecycle_tables": "rujukan", "db_lifecycle_privileges": "select"}
    assert playbook("sop3x_database.yml", more).changed >= 1
    assert len(_privileges(dbhost, engine, dbname, grantee)) == 4

    revoke = lc | {"db_lifecycle_action": "revoke", "db_lifecycle_engine": engine, "db_lifecycle_database": dbname,
                   "db_lifecycle_grantee": grantee}
    _check_then_apply_twice(playbook, revoke)
    assert _privileges(dbhost, engine, dbname, grantee) == before, "revoke must leave exactly what was there before"

    res = playbook("sop3x_database.yml", grant | {"db_lifecycle_privileges": ["SELECT", "DROP"]}, check=True)
    assert res.rc != 0 and "privileges among" in res.out, "only SELECT/INSERT/UPDATE/DELETE may be granted"


@pytest.mark.slow
def test_drop_refused_without_verified_backup_then_proceeds(playbook: Any, lc: dict[str, Any], engine: str,
                                                             dbname: str, backup_vars: dict[str, Any],
                                                             dbhost: DbServers) -> None:
    assert playbook("sop3x_database.yml", lc | _create(engine, dbname)).rc == 0
    assert playbook("sop3x_database.yml", lc | _create(engine, dbname) | {
        "db_lifecycle_action": "table", "db_lifecycle_table": "rujukan"}).rc == 0
    insert = "INSERT INTO rujukan VALUES (1, 'RSUD Setjonegoro'), (2, 'RS PKU Wonosobo')"
    if engine == "postgresql":
        psql(dbhost, dbname, insert)
    else:
        mariadb(dbhost, dbname, insert)
    drop = lc | {"db_lifecycle_action": "drop", "db_lifecycle_engine": engine, "db_lifecycle_database": dbname}

    refused = playbook("sop3x_database.yml", drop)
    assert refused.rc != 0 and "REFUSED" in refused.out and "no test-restored backup" in refused.out, refused.out
    assert _exists(dbhost, engine, dbname)

    bv = backup_vars | {"backup_policy": f"pre-drop-{dbname}", "backup_engine": engine, "backup_databases": [dbname]}
    assert playbook("sop12_backup.yml", bv).rc == 0
    changed = "INSERT INTO rujukan VALUES (3, 'RSU Dadi Keluarga')"
    if engine == "postgresql":
        psql(dbhost, dbname, changed)
    else:
        mariadb(dbhost, dbname, changed)
    stale = playbook("sop3x_database.yml", drop)
    assert stale.rc != 0 and "differs from the data now" in stale.out, stale.out

    assert playbook("sop12_backup.yml", bv | {"backup_run_id": "after-change"}).rc == 0
    _check_then_apply_twice(playbook, drop)
    assert not _exists(dbhost, engine, dbname)


def test_drop_waived_by_kabid(playbook: Any, lc: dict[str, Any], engine: str, dbname: str, dbhost: DbServers) -> None:
    assert playbook("sop3x_database.yml", lc | _create(engine, dbname)).rc == 0
    drop = lc | {"db_lifecycle_action": "drop", "db_lifecycle_engine": engine, "db_lifecycle_database": dbname,
                 "db_lifecycle_backup_waived": True}
    _check_then_apply_twice(playbook, drop)
    assert not _exists(dbhost, engine, dbname)


def _exists(db: DbServers, engine: str, name: str) -> bool:
    if engine == "postgresql":
        return bool(psql(db, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))
    return bool(mariadb(db, "", f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{name}'"))
