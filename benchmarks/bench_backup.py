"""Backup and restore throughput of the backup role's pipeline against raw pg_dump/pg_restore.

Generates a PostgreSQL database of ``SOP_BENCH_MB`` megabytes (default 200) on the lab's
database host (sop_runner/lab/dbservers.py), then measures:

- raw ``pg_dump -Fc`` to a file and ``pg_restore`` into an empty database (MB/s of database size);
- the backup helper's full job (dump, restic store, test restore into a scratch database with
  table checksums, copy to the second repository) and its restore (restic -> pg_restore ->
  checksums);
- the deduplication of the next backup after 1 % of the rows changed (restic's data_added),
  once for the newest 1 % of rows and once for every hundredth row.

Prints figures and ratios only; nothing is asserted. Run by hand with SOP_BENCH_MB=1024 for
the 1 GB figure: ``.venv/bin/python benchmarks/bench_backup.py``.
"""

# SQL here is built from a generated database name and integers only.
# ruff: noqa: S608

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sop_runner.lab import dbservers

TOOL = Path(__file__).resolve().parents[1] / "roles" / "backup" / "files" / "sop_dbdata.py"
ROW_BYTES = 180  # about what one generated row takes on disk with its index


def _psql(info: dbservers.DbServers, db: str, sql: str) -> str:
    env = {**os.environ, "PGPASSWORD": info.password}
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                           str(info.pg_port), "-U", info.pg_user, "-d", db], input=sql, env=env, text=True,
                          capture_output=True, check=True).stdout.strip()


def _timed(cmd: list[str], env: dict[str, str], **kw: object) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t0


def _job(info: dbservers.DbServers, command: str, job: dict[str, object], password: str) -> tuple[float, dict]:
    env = {**os.environ, "SOP_DBDATA_JOB": json.dumps(job), "SOP_DBDATA_DB_PASSWORD": info.password,
           "RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": str(Path(str(job["staging_dir"])).parent / "cache")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(TOOL), command], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed: {proc.stdout} {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def main() -> int:
    """Generate, measure, print."""
    size_mb = int(os.environ.get("SOP_BENCH_MB", "200"))
    info = dbservers.up()
    db = f"bench_{uuid.uuid4().hex[:6]}"
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    _psql(info, "postgres", f"CREATE DATABASE {db}")
    try:
        t0 = time.perf_counter()
        _psql(info, db, f"""
            CREATE TABLE penduduk (id bigint PRIMARY KEY, nik char(16), nama text, alamat text, lahir date);
            INSERT INTO penduduk SELECT g, lpad(g::text, 16, '0'), 'Warga ' || g,
                   'Desa ' || (g % 265) || ' RT ' || (g % 13) || ' RW ' || (g % 7) || ' ' || md5(g::text),
                   date '1950-01-01' + (g % 25000) FROM generate_series(1, {rows}) g;
            VACUUM ANALYZE penduduk;""")
        real_mb = int(_psql(info, "postgres", f"SELECT pg_database_size('{db}')")) / 1e6
        print(f"database: {real_mb:.0f} MB, {rows} rows (generated in {time.perf_counter() - t0:.0f} s)")
        env = {**os.environ, "PGPASSWORD": info.password, "PGHOST": "127.0.0.1", "PGPORT": str(info.pg_port),
               "PGUSER": info.pg_user}
        with tempfile.TemporaryDirectory(prefix="sop-bench-", dir=os.environ.get("SOP_BENCH_DIR")) as tmp:
            dump = Path(tmp) / "raw.dump"
            t_dump = _timed(["pg_dump", "-Fc", "-f", str(dump), db], env)
            _psql(info, "postgres", f"CREATE DATABASE {db}_raw")
            t_rest = _timed(["pg_restore", "--exit-on-error", "-d", f"{db}_raw", str(dump)], env)
            _psql(info, "postgres", f"DROP DATABASE {db}_raw WITH (FORCE)")
            dump_mb = dump.stat().st_size / 1e6
            print(f"raw pg_dump -Fc:      {t_dump:6.1f} s  {real_mb / t_dump:7.1f} MB/s  (dump {dump_mb:.0f} MB)")
            print(f"raw pg_restore:       {t_rest:6.1f} s  {real_mb / t_rest:7.1f} MB/s")

            password = uuid.uuid4().hex
            job: dict[str, object] = {
                "engine": "postgresql", "db_host": "127.0.0.1", "db_port": info.pg_port, "db_user": info.pg_user,
                "databases": [db], "paths": [], "repository": f"{tmp}/dc", "offsite_repository": f"{tmp}/offsite",
                "policy": "bench", "run_id": "run-1", "staging_dir": f"{tmp}/staging", "host_label": "bench",
                "retention_days": 0}
            t_job, first = _job(info, "backup", job, password)
            added1 = first["restic"]["data_added"]
            print(f"backup job (dump + restic + test restore + checksums + off-site copy): {t_job:6.1f} s  "
                  f"{real_mb / t_job:7.1f} MB/s  ({t_job / (t_dump + t_rest):.1f}x raw dump+restore)")
            print(f"  repository after first backup: {added1 / 1e6:.0f} MB added")

            # 1 % of the rows changed, two ways: the newest 1 % (how registers usually change) and
            # every hundredth row (the worst case for content-defined chunks of ~1 MiB).
            changes = [("the newest 1 % of rows", f"id > {rows - rows // 100}"),
                       ("every 100th row (1 %)", "id % 100 = 0")]
            for n, (label, where) in enumerate(changes, start=2):
                _psql(info, db, f"UPDATE penduduk SET alamat = alamat || ' (pindah)' WHERE {where}")
                t_next, nxt = _job(info, "backup", job | {"run_id": f"run-{n}"}, password)
                added = nxt["restic"]["data_added"]
                processed = nxt["restic"]["total_bytes_processed"]
                print(f"backup after changing {label}: {t_next:6.1f} s, {added / 1e6:.1f} MB added of "
                      f"{processed / 1e6:.0f} MB dumped -> dedup ratio {processed / max(added, 1):.1f}:1 "
                      f"({100 * added / max(processed, 1):.1f} % new)")

            t_r, _ = _job(info, "restore", {**job, "database": db, "target_database": f"{db}_r", "snapshot": "latest",
                                            "policy": "bench"}, password)
            print(f"restore job (restic -> pg_restore + checksums): {t_r:6.1f} s  {real_mb / t_r:7.1f} MB/s  "
                  f"({t_r / t_rest:.1f}x raw pg_restore)")
            _psql(info, "postgres", f"DROP DATABASE IF EXISTS {db}_r WITH (FORCE)")
    finally:
        _psql(info, "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
