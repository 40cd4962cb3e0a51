#!/usr/bin/env python3
"""Read-only probe of a Debian database server for SOP 35 (dbms_upgrade role).

Usage: sop_dbcheck.py ENGINE [DATABASE ...]
Prints JSON: {"version": server version, "databases": {db: {schema.table: [rows, checksum]}}}.
PostgreSQL is read as the postgres OS user over the local socket (peer authentication),
MariaDB as root over its socket: the Debian defaults, so no password is handled. The
checksum is order-independent (PostgreSQL: sum of hashtextextended(row::text); MariaDB:
CHECKSUM TABLE ... EXTENDED), so equal digests before and after mean equal data.
"""

from __future__ import annotations

import json
import subprocess
import sys

SYSTEM = {"template0", "template1", "mysql", "information_schema", "performance_schema", "sys"}


def _pg(database: str, sql: str) -> list[list[str]]:
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
         "-d", database, "-c", sql],
        capture_output=True, text=True, check=True, cwd="/",
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def _my(sql: str) -> list[list[str]]:
    out = subprocess.run(["mariadb", "--batch", "--skip-column-names", "-e", sql],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def _ident(name: str, quote: str) -> str:
    return quote + name.replace(quote, quote * 2) + quote


def postgresql(wanted: list[str]) -> dict[str, object]:
    version = _pg("postgres", "SHOW server_version")[0][0]
    dbs = [r[0] for r in _pg("postgres", "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]
    out: dict[str, dict[str, list[str]]] = {}
    for db in dbs:
        if db in SYSTEM or (wanted and db not in wanted):
            continue
        tables = _pg(db, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                         "('pg_catalog', 'information_schema') ORDER BY 1, 2")
        digest: dict[str, list[str]] = {}
        for schema, table in tables:
            qualified = _ident(schema, '"') + "." + _ident(table, '"')
            row = _pg(db, f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) "
                          f"FROM {qualified} t")[0]
            digest[f"{schema}.{table}"] = row
        out[db] = digest
    return {"version": version, "databases": out}


def mariadb(wanted: list[str]) -> dict[str, object]:
    version = _my("SELECT VERSION()")[0][0]
    out: dict[str, dict[str, list[str]]] = {}
    for (db,) in _my("SHOW DATABASES"):
        if db in SYSTEM or (wanted and db not in wanted):
            continue
        digest: dict[str, list[str]] = {}
        for table, _kind in _my("SHOW FULL TABLES FROM " + _ident(db, "`") + " WHERE Table_type = 'BASE TABLE'"):
            qualified = _ident(db, "`") + "." + _ident(table, "`")
            rows = _my(f"SELECT count(*) FROM {qualified}")[0][0]
            checksum = _my(f"CHECKSUM TABLE {qualified} EXTENDED")[0][1]
            digest[f"{db}.{table}"] = [rows, checksum]
        out[db] = digest
    return {"version": version, "databases": out}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("postgresql", "mariadb"):
        print(json.dumps({"error": "usage: sop_dbcheck.py postgresql|mariadb [DATABASE ...]"}))
        return 2
    probe = postgresql if argv[1] == "postgresql" else mariadb
    try:
        print(json.dumps(probe(argv[2:]), sort_keys=True))
    except subprocess.CalledProcessError as exc:
        print(json.dumps({"error": f"{' '.join(exc.cmd[:4])}: {exc.stderr.strip()}"}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
