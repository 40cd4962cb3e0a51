#!/usr/bin/env python3
"""Database and file backups into restic, test restores, and restores (SOP 12, 13, 30, 34).

Run by the ``backup`` and ``restore`` roles on the database host; standard library only, so
any python3 there will do. The server's own tools do the work: ``pg_dump -Fc`` / ``pg_restore``
and ``mariadb-dump --single-transaction`` / ``mariadb``; restic keeps the dumps (and any
application paths) deduplicated, encrypted and checksummed.

Usage: ``sop_dbdata.py COMMAND`` with the job as JSON in ``SOP_DBDATA_JOB`` and secrets in the
environment: ``SOP_DBDATA_DB_PASSWORD`` (database admin), ``RESTIC_PASSWORD`` (local repository),
``SOP_DBDATA_OFFSITE_PASSWORD`` (second repository; defaults to ``RESTIC_PASSWORD``).

Commands print one JSON object on stdout. Exit codes: 0 done, 3 a check failed (the JSON's
``error`` says which and why), 1 anything else (message on stderr).
"""

# SQL is built here only from catalogue names quoted by _pg_ident/_pg_literal/_my_ident/_my_literal.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHECK_FAILED = 3
VERIFIED = "verified"
_CHUNK = 1 << 20


class CheckFailedError(Exception):
    """A verification found a difference: the backup (or restore) must not be trusted."""


class JobError(Exception):
    """A tool failed or the job cannot be done as asked."""


# -- small helpers ----------------------------------------------------------------------------
def _env_secret(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _run(cmd: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise JobError(f"{Path(cmd[0]).name} {' '.join(cmd[1:3])} failed (rc {proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()[-1200:]}")
    return proc


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _free_bytes(path: str) -> int:
    p = Path(path)
    while not p.exists():
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


# -- database engines ---------------------------------------------------------------------------
class Engine:
    """What differs between PostgreSQL and MariaDB: the tools and the catalogue queries."""

    name = ""

    def __init__(self, job: dict[str, Any]) -> None:
        self.host = job.get("db_host", "127.0.0.1")
        self.port = str(job.get("db_port", ""))
        self.user = job.get("db_user", "")
        self.password = _env_secret("SOP_DBDATA_DB_PASSWORD")

    def env(self) -> dict[str, str]:
        """The environment for the engine's client tools."""
        return dict(os.environ)

    def sql(self, db: str, query: str) -> list[list[str]]:
        """Rows of a query as lists of strings."""
        raise NotImplementedError

    def databases(self) -> list[str]:
        """The user databases on the server."""
        raise NotImplementedError

    def size(self, db: str) -> int:
        """Bytes the database takes on disk (the dump is usually smaller)."""
        raise NotImplementedError

    def digest(self, db: str) -> dict[str, dict[str, str]]:
        """Per table: row count and an order-independent checksum of the rows."""
        raise NotImplementedError

    def dump_cmd(self, db: str) -> list[str]:
        """The command that writes a dump of db to stdout."""
        raise NotImplementedError

    def create(self, db: str) -> None:
        """Create an empty database."""
        raise NotImplementedError

    def drop(self, db: str) -> None:
        """Drop a database if it exists."""
        raise NotImplementedError

    def restore_cmd(self, db: str, *, clean: bool, scratch: bool) -> list[str]:
        """The command that reads a dump on stdin into db."""
        raise NotImplementedError

    def version(self) -> str:
        """The server's version string."""
        return self.sql("", "SELECT version()")[0][0]


class Postgres(Engine):
    """PostgreSQL through psql, pg_dump and pg_restore."""

    name = "postgresql"
    _TABLES = ("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
               "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2")

    def env(self) -> dict[str, str]:
        """libpq's environment: host, port, user and password."""
        return {**os.environ, "PGHOST": self.host, "PGPORT": self.port, "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}

    def sql(self, db: str, query: str) -> list[list[str]]:
        """Rows of a query (psql -At, unit separator between fields)."""
        out = _run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-d", db or "postgres"],
                   env=self.env(), stdin=query).stdout
        return [line.split("\x1f") for line in out.splitlines() if line]

    def databases(self) -> list[str]:
        """Databases other than the templates and postgres."""
        rows = self.sql("", "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
        return [r[0] for r in rows]

    def size(self, db: str) -> int:
        """pg_database_size."""
        return int(self.sql("", f"SELECT pg_database_size({_pg_literal(db)})")[0][0])

    def digest(self, db: str) -> dict[str, dict[str, str]]:
        """count(*) and the sum of 64-bit hashes of each row's text form (order independent)."""
        gen = ("SELECT format('SELECT %L, count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) "
               "FROM %I.%I t', n || '.' || r, n, r) FROM (" +
               self._TABLES.replace("n.nspname, c.relname", "n.nspname AS n, c.relname AS r") + ") q \\gexec\n")
        return {row[0]: {"rows": row[1], "checksum": row[2]} for row in self.sql(db, gen)}

    def dump_cmd(self, db: str) -> list[str]:
        """Custom format, uncompressed: restic compresses, and deduplicates what stays the same."""
        return ["pg_dump", "-Fc", "-Z0", "-d", db]

    def create(self, db: str) -> None:
        """CREATE DATABASE from template0."""
        _run(["createdb", "-T", "template0", db], env=self.env())

    def drop(self, db: str) -> None:
        """DROP DATABASE … WITH (FORCE)."""
        self.sql("", f"DROP DATABASE IF EXISTS {_pg_ident(db)} WITH (FORCE)")

    def restore_cmd(self, db: str, *, clean: bool, scratch: bool) -> list[str]:
        """pg_restore in one transaction; a scratch copy skips owners and grants."""
        cmd = ["pg_restore", "--exit-on-error", "--single-transaction", "-d", db]
        if clean:
            cmd += ["--clean", "--if-exists"]
        if scratch:
            cmd += ["--no-owner", "--no-acl"]
        return cmd


class MariaDB(Engine):
    """MariaDB through the mariadb and mariadb-dump clients."""

    name = "mariadb"

    def env(self) -> dict[str, str]:
        """MYSQL_PWD keeps the password off the command line."""
        return {**os.environ, "MYSQL_PWD": self.password}

    def _conn(self) -> list[str]:
        return [f"--host={self.host}", f"--port={self.port}", f"--user={self.user}", "--protocol=TCP"]

    def sql(self, db: str, query: str) -> list[list[str]]:
        """Rows of a query (batch mode, tab separated)."""
        cmd = ["mariadb", "--no-defaults", *self._conn(), "--batch", "--skip-column-names", "--raw"]
        if db:
            cmd.append(db)
        out = _run(cmd, env=self.env(), stdin=query).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def databases(self) -> list[str]:
        """Schemas other than the system ones."""
        rows = self.sql("", "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
                            "('mysql', 'information_schema', 'performance_schema', 'sys')")
        return [r[0] for r in rows]

    def size(self, db: str) -> int:
        """data_length + index_length from information_schema.tables."""
        rows = self.sql("", "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
                            f"WHERE table_schema = {_my_literal(db)}")
        return int(rows[0][0])

    def digest(self, db: str) -> dict[str, dict[str, str]]:
        """COUNT(*) and CHECKSUM TABLE … EXTENDED per base table."""
        tables = [r[0] for r in self.sql("", "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                             f"{_my_literal(db)} AND table_type = 'BASE TABLE' ORDER BY 1")]
        if not tables:
            return {}
        counts = " UNION ALL ".join(f"SELECT {_my_literal(t)}, COUNT(*) FROM {_my_ident(t)}" for t in tables)
        rows = {r[0]: r[1] for r in self.sql(db, counts + ";")}
        sums = self.sql(db, "CHECKSUM TABLE " + ", ".join(_my_ident(t) for t in tables) + " EXTENDED;")
        checks = {r[0].split(".", 1)[1]: r[1] for r in sums}
        return {t: {"rows": rows[t], "checksum": checks.get(t, "")} for t in tables}

    def dump_cmd(self, db: str) -> list[str]:
        """A consistent InnoDB dump with routines, triggers and events."""
        return ["mariadb-dump", "--no-defaults", *self._conn(), "--single-transaction", "--routines", "--triggers",
                "--events", "--hex-blob", "--skip-dump-date", db]

    def create(self, db: str) -> None:
        """CREATE DATABASE utf8mb4."""
        self.sql("", f"CREATE DATABASE {_my_ident(db)} CHARACTER SET utf8mb4")

    def drop(self, db: str) -> None:
        """DROP DATABASE IF EXISTS."""
        self.sql("", f"DROP DATABASE IF EXISTS {_my_ident(db)}")

    def restore_cmd(self, db: str, *, clean: bool, scratch: bool) -> list[str]:
        """The dump drops and recreates each table it holds."""
        return ["mariadb", "--no-defaults", *self._conn(), db]


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _my_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _my_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def engine_for(job: dict[str, Any]) -> Engine:
    """The engine named by job['engine']."""
    kinds: dict[str, type[Engine]] = {"postgresql": Postgres, "mariadb": MariaDB}
    if job.get("engine") not in kinds:
        raise JobError(f"engine must be one of {sorted(kinds)}, got {job.get('engine')!r}")
    return kinds[job["engine"]](job)


# -- restic -----------------------------------------------------------------------------------
class Repo:
    """One restic repository (a local path here; restic accepts any of its URLs)."""

    def __init__(self, location: str, password: str) -> None:
        self.location = location
        self.password = password

    def env(self, **extra: str) -> dict[str, str]:
        """restic's environment; its cache stays out of root's home."""
        return {**os.environ, "RESTIC_REPOSITORY": self.location, "RESTIC_PASSWORD": self.password,
                "RESTIC_CACHE_DIR": os.environ.get("RESTIC_CACHE_DIR", "/var/cache/sop-restic"), **extra}

    def initialised(self) -> bool:
        """A local repository has a config file; other URLs are asked."""
        if "://" not in self.location and ":" not in self.location.split("/")[0]:
            return (Path(self.location) / "config").is_file()
        return _run(["restic", "cat", "config"], env=self.env(), check=False).returncode == 0

    def readable(self) -> bool:
        """Initialised and the password opens it."""
        return self.initialised() and _run(["restic", "cat", "config"], env=self.env(), check=False).returncode == 0

    def init(self, *, copy_chunker_from: Repo | None = None) -> bool:
        """Create the repository if needed; True when it was created."""
        if self.initialised():
            return False
        if "://" not in self.location:
            Path(self.location).mkdir(parents=True, exist_ok=True)
        cmd = ["restic", "init"]
        env = self.env()
        if copy_chunker_from is not None:
            # Same chunker parameters: `restic copy` then keeps the deduplication.
            cmd += ["--copy-chunker-params", "--from-repo", copy_chunker_from.location]
            env["RESTIC_FROM_PASSWORD"] = copy_chunker_from.password
        _run(cmd, env=env)
        return True

    def snapshots(self, tags: list[str]) -> list[dict[str, Any]]:
        """Snapshots carrying every tag, oldest first."""
        cmd = ["restic", "snapshots", "--json", "--no-lock"]
        if tags:
            cmd += ["--tag", ",".join(tags)]
        out = _run(cmd, env=self.env()).stdout
        return sorted(json.loads(out or "[]"), key=lambda s: s["time"])

    def files(self, snapshot: str) -> list[str]:
        """Paths of the regular files in a snapshot."""
        out = _run(["restic", "ls", "--json", "--no-lock", snapshot], env=self.env()).stdout
        paths = []
        for line in out.splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                node = json.loads(line)
                if node.get("struct_type") == "node" and node.get("type") == "file":
                    paths.append(node["path"])
        return paths

    def cat_file(self, snapshot: str, path: str) -> bytes:
        """One file of a snapshot."""
        proc = subprocess.run(["restic", "dump", "--no-lock", snapshot, path], env=self.env(), capture_output=True,
                              check=False)
        if proc.returncode != 0:
            raise CheckFailedError(f"restic could not read {path} from snapshot {snapshot[:8]} in {self.location}: "
                                   f"{proc.stderr.decode(errors='replace').strip()[-600:]}")
        return proc.stdout


def _stream_restore(repo: Repo, snapshot: str, path: str, sink: list[str], sink_env: dict[str, str]) -> str:
    """Pipe one file of a snapshot into a command, hashing it on the way; returns its sha256."""
    h = hashlib.sha256()
    src = subprocess.Popen(["restic", "dump", "--no-lock", snapshot, path], env=repo.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dst = subprocess.Popen(sink, env=sink_env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    assert src.stdout is not None and dst.stdin is not None
    broken = False
    for block in iter(lambda: src.stdout.read(_CHUNK), b""):  # type: ignore[union-attr]
        h.update(block)
        if not broken:
            try:
                dst.stdin.write(block)
            except BrokenPipeError:
                broken = True
    with contextlib.suppress(BrokenPipeError):
        dst.stdin.close()
    src_err = src.stderr.read().decode(errors="replace") if src.stderr else ""
    src.wait()
    dst_err = dst.stderr.read().decode(errors="replace") if dst.stderr else ""
    dst.wait()
    if src.returncode != 0:
        raise CheckFailedError(f"restic could not read {path} back from snapshot {snapshot[:8]} "
                               f"({repo.location}): {src_err.strip()[-600:]}")
    if dst.returncode != 0:
        raise CheckFailedError(f"{Path(sink[0]).name} could not load {Path(path).name} from snapshot "
                               f"{snapshot[:8]}: {dst_err.strip()[-600:]}")
    return h.hexdigest()


# -- the jobs ---------------------------------------------------------------------------------
def _repos(job: dict[str, Any]) -> tuple[Repo, Repo | None]:
    local = Repo(job["repository"], _env_secret("RESTIC_PASSWORD"))
    offsite = None
    if job.get("offsite_repository"):
        offsite = Repo(job["offsite_repository"],
                       _env_secret("SOP_DBDATA_OFFSITE_PASSWORD") or _env_secret("RESTIC_PASSWORD"))
    if not local.password:
        raise JobError("no repository password (RESTIC_PASSWORD is empty)")
    return local, offsite


def _run_tags(job: dict[str, Any]) -> list[str]:
    return [f"policy={job['policy']}", f"sop_run={job['run_id']}"]


def _locks(location: str) -> int:
    """Lock files of a local repository (another backup or prune at work, or a dead one)."""
    locks = Path(location) / "locks"
    return len(list(locks.iterdir())) if locks.is_dir() else 0


def probe(job: dict[str, Any]) -> dict[str, Any]:
    """What a backup would take: sizes, free space, repository state; reads only."""
    eng = engine_for(job) if job.get("databases") else None
    local, offsite = _repos(job)
    present = set(eng.databases()) if eng else set()
    dbs = [{"name": d, "exists": d in present, "size_bytes": eng.size(d) if eng and d in present else 0}
           for d in job.get("databases", [])]
    paths = []
    for p in job.get("paths", []):
        path = Path(p)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else (
            path.stat().st_size if path.is_file() else 0)
        paths.append({"path": p, "exists": path.exists(), "size_bytes": size})
    done = []
    if local.readable():
        done = [s["short_id"] for s in local.snapshots(_run_tags(job))]
    estimated = sum(d["size_bytes"] for d in dbs) + sum(p["size_bytes"] for p in paths)
    return {
        "engine": job.get("engine", ""),
        "server_version": eng.version() if eng else "",
        "databases": dbs,
        "paths": paths,
        "estimated_bytes": estimated,
        "repository": {"location": local.location, "initialised": local.initialised(),
                       "free_bytes": _free_bytes(local.location), "locks": _locks(local.location)},
        "offsite": {"location": offsite.location if offsite else "",
                    "initialised": bool(offsite and offsite.initialised()),
                    "free_bytes": _free_bytes(offsite.location) if offsite else 0},
        "done_snapshots": done,
    }


def _verify_snapshot(job: dict[str, Any], eng: Engine | None, repo: Repo, snap: str,
                     manifest: dict[str, Any]) -> dict[str, Any]:
    """Restore every dump of the snapshot into a scratch database and compare it with the source."""
    results: dict[str, Any] = {"databases": {}, "paths": {}}
    files = repo.files(snap)
    for db, meta in manifest["databases"].items():
        assert eng is not None
        path = next((f for f in files if f.endswith("/" + meta["file"])), None)
        if path is None:
            raise CheckFailedError(f"snapshot {snap[:8]} has no dump of {db}")
        scratch = f"sopverify_{re.sub(r'[^a-z0-9_]', '_', db.lower())[:40]}_{secrets.token_hex(3)}"
        eng.create(scratch)
        try:
            sha = _stream_restore(repo, snap, path, eng.restore_cmd(scratch, clean=False, scratch=True), eng.env())
            if sha != meta["sha256"]:
                raise CheckFailedError(f"the dump of {db} read back from snapshot {snap[:8]} has sha256 {sha[:16]}…, "
                                       f"the backup wrote {meta['sha256'][:16]}…")
            got = eng.digest(scratch)
        finally:
            eng.drop(scratch)
        if got != meta["digest"]:
            diff = sorted(t for t in set(got) | set(meta["digest"]) if got.get(t) != meta["digest"].get(t))
            raise CheckFailedError(
                f"the test restore of {db} differs from the source in table(s) {', '.join(diff)}: "
                f"restored {[got.get(t) for t in diff]}, source {[meta['digest'].get(t) for t in diff]}")
        results["databases"][db] = {"tables": len(got), "rows": sum(int(v["rows"]) for v in got.values()),
                                    "sha256": sha, "scratch": scratch, "usable": True}
    if manifest["paths"]:
        with tempfile.TemporaryDirectory(prefix="sopverify-") as tmp:
            proc = _run(["restic", "restore", "--no-lock", snap, "--target", tmp], env=repo.env(), check=False)
            if proc.returncode != 0:
                raise CheckFailedError(f"restic could not restore the files of snapshot {snap[:8]}: "
                                       f"{proc.stderr.strip()[-600:]}")
            for src, sums in manifest["paths"].items():
                bad = [rel for rel, sha in sums.items()
                       if not (Path(tmp + rel).is_file() and _sha256_file(Path(tmp + rel)) == sha)]
                if bad:
                    raise CheckFailedError(f"{len(bad)} file(s) of {src} restored from snapshot {snap[:8]} differ "
                                           f"from the source, e.g. {bad[:3]}")
                results["paths"][src] = {"files": len(sums), "usable": True}
    return results


def _file_sums(root: str) -> dict[str, str]:
    p = Path(root).resolve()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    return {str(f): _sha256_file(f) for f in files}


def backup(job: dict[str, Any]) -> dict[str, Any]:
    """Dump, store, test-restore, copy off site, apply retention; idempotent per run id."""
    local, offsite = _repos(job)
    eng = engine_for(job) if job.get("databases") else None
    started = dt.datetime.now(dt.UTC)
    created = {"repository": local.init()}
    if offsite is not None:
        created["offsite"] = offsite.init(copy_chunker_from=local)
    existing = local.snapshots(_run_tags(job))
    staging = Path(job["staging_dir"]) / re.sub(r"[^A-Za-z0-9_.-]", "_", job["policy"])
    manifest: dict[str, Any] = {"policy": job["policy"], "run_id": job["run_id"], "engine": job.get("engine", ""),
                                "databases": {}, "paths": {}}
    if existing:
        # Resumed run: the snapshot exists; verify and copy it again rather than take another.
        snap = existing[-1]["id"]
        manifest = json.loads(local.cat_file(snap, next(f for f in local.files(snap) if f.endswith("/manifest.json"))))
    else:
        if staging.exists():
            shutil.rmtree(staging)
        (staging / "db").mkdir(parents=True)
        try:
            for db in job.get("databases", []):
                assert eng is not None
                fname = f"{eng.name}-{db}.dump"
                digest = eng.digest(db)
                with (staging / "db" / fname).open("wb") as out:
                    proc = subprocess.run(eng.dump_cmd(db), env=eng.env(), stdout=out, stderr=subprocess.PIPE,
                                          check=False)
                if proc.returncode != 0:
                    raise JobError(f"dump of {db} failed: {proc.stderr.decode(errors='replace').strip()[-800:]}")
                manifest["databases"][db] = {"file": fname, "sha256": _sha256_file(staging / "db" / fname),
                                             "bytes": (staging / "db" / fname).stat().st_size, "digest": digest}
            for p in job.get("paths", []):
                manifest["paths"][p] = _file_sums(p)
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            tags = [*_run_tags(job), f"engine={job.get('engine') or 'files'}",
                    *[f"db={d}" for d in manifest["databases"]]]
            cmd = ["restic", "backup", "--json", "--host", job["host_label"], str(staging), *job.get("paths", [])]
            for t in tags:
                cmd += ["--tag", t]
            out = _run(cmd, env=local.env()).stdout
            summary = next(json.loads(line) for line in out.splitlines()
                           if line.startswith("{") and '"message_type":"summary"' in line.replace(" ", ""))
            snap = next(s["id"] for s in local.snapshots(_run_tags(job)) if s["id"].startswith(summary["snapshot_id"]))
            manifest["restic_summary"] = {k: summary.get(k) for k in (
                "files_new", "files_changed", "files_unmodified", "data_added", "total_bytes_processed",
                "total_duration")}
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    verified = _verify_snapshot(job, eng, local, snap, manifest)
    # Only a snapshot that passed its test restore carries "verified": restores (SOP 13) and
    # the drop guard (SOP 32) use no other. Re-tagging gives the snapshot a new id.
    if VERIFIED not in next((x.get("tags") or []) for x in local.snapshots(_run_tags(job)) if x["id"] == snap):
        _run(["restic", "tag", "--add", VERIFIED, snap], env=local.env())
        snap = local.snapshots([*_run_tags(job), VERIFIED])[-1]["id"]
    copied = ""
    if offsite is not None:
        _run(["restic", "copy", "--from-repo", local.location, snap],
             env=offsite.env(RESTIC_FROM_PASSWORD=local.password))
        remote = offsite.snapshots(_run_tags(job))
        if not remote:
            raise CheckFailedError(
                f"snapshot {snap[:8]} is not in the second location {offsite.location} after the copy")
        copied = remote[-1]["id"]
        # A copy nobody can read is no copy: read every dump back out of the second location too.
        for meta in manifest["databases"].values():
            path = next(f for f in offsite.files(copied) if f.endswith("/" + meta["file"]))
            got = hashlib.sha256(offsite.cat_file(copied, path)).hexdigest()
            if got != meta["sha256"]:
                raise CheckFailedError(f"the copy of {meta['file']} in {offsite.location} has another checksum")
    forgotten = {}
    if int(job.get("retention_days") or 0) > 0:
        for label, repo in (("repository", local), ("offsite", offsite)):
            if repo is None:
                continue
            out = _run(["restic", "forget", "--json", "--prune", "--tag", f"policy={job['policy']}",
                        "--keep-within", f"{int(job['retention_days'])}d"], env=repo.env()).stdout
            removed = sum(len(g.get("remove") or []) for g in json.loads(out.splitlines()[0] if out else "[]"))
            forgotten[label] = removed
    return {
        "ok": True, "policy": job["policy"], "run_id": job["run_id"], "engine": job.get("engine", ""),
        "snapshot": snap, "offsite_snapshot": copied, "resumed": bool(existing),
        "repository": local.location, "offsite_repository": offsite.location if offsite else "",
        "created_repositories": created, "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "databases": {d: {k: v for k, v in m.items() if k != "digest"} | {"tables": m["digest"]}
                      for d, m in manifest["databases"].items()},
        "paths": {p: len(s) for p, s in manifest["paths"].items()},
        "restic": manifest.get("restic_summary", {}), "test_restore": verified, "retention_removed": forgotten,
    }


def _select_snapshot(repo: Repo, job: dict[str, Any]) -> dict[str, Any] | None:
    tags = [VERIFIED] + ([f"policy={job['policy']}"] if job.get("policy") else [])
    if job.get("database"):
        tags.append(f"db={job['database']}")
    snaps = repo.snapshots(tags)
    when = str(job.get("snapshot") or "latest")
    if when == "latest":
        return snaps[-1] if snaps else None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", when):
        # The newest backup taken on or before that day (UTC).
        snaps = [s for s in snaps if s["time"][:10] <= when]
        return snaps[-1] if snaps else None
    return next((s for s in snaps if s["id"].startswith(when) or s.get("short_id") == when), None)


def locate(job: dict[str, Any]) -> dict[str, Any]:
    """Which snapshot a restore would use, from which location; reads only."""
    local, offsite = _repos(job)
    result: dict[str, Any] = {"local_readable": local.readable(),
                              "offsite_readable": bool(offsite and offsite.readable())}
    snap, source = None, ""
    if result["local_readable"]:
        snap, source = _select_snapshot(local, job), "repository"
    if snap is None and offsite is not None and result["offsite_readable"]:
        snap, source = _select_snapshot(offsite, job), "offsite"
    if job.get("database"):
        eng = engine_for(job)
        target = job.get("target_database") or job["database"]
        result.update({"target_database": target, "target_exists": target in eng.databases()})
    result.update({"found": snap is not None, "source": source if snap else "",
                   "snapshot": snap["id"] if snap else "", "short_id": snap["short_id"] if snap else "",
                   "time": snap["time"][:19] if snap else "", "tags": snap.get("tags", []) if snap else []})
    if snap is not None and job.get("database"):
        repo = local if source == "repository" else offsite
        assert repo is not None
        manifest = json.loads(repo.cat_file(snap["id"], next(f for f in repo.files(snap["id"])
                                                             if f.endswith("/manifest.json"))))
        meta = manifest["databases"].get(job["database"])
        if meta is None:
            raise JobError(f"snapshot {snap['short_id']} holds no dump of {job['database']}")
        exists = result["target_exists"]
        current = eng.digest(target) if exists else {}
        result.update({"backup_digest": meta["digest"],
                       "in_sync": exists and current == meta["digest"],
                       "differs": sorted(t for t in set(current) | set(meta["digest"])
                                         if current.get(t) != meta["digest"].get(t))})
    return result


def restore(job: dict[str, Any]) -> dict[str, Any]:
    """Restore one database (and any paths) from the chosen snapshot, then verify the rows."""
    loc = locate(job)
    if not loc["found"]:
        raise CheckFailedError(f"no successful backup of {job.get('database') or job.get('policy')} matches "
                               f"{job.get('snapshot') or 'latest'} in {job['repository']} or the second location")
    local, offsite = _repos(job)
    repo = local if loc["source"] == "repository" else offsite
    assert repo is not None
    snap = loc["snapshot"]
    out: dict[str, Any] = {"ok": True, "snapshot": snap, "snapshot_time": loc["time"], "source": loc["source"],
                           "source_location": repo.location}
    if job.get("database"):
        eng = engine_for(job)
        target = loc["target_database"]
        if loc["in_sync"]:
            out.update({"database": job["database"], "target_database": target, "changed": False})
        else:
            files = repo.files(snap)
            manifest = json.loads(repo.cat_file(snap, next(f for f in files if f.endswith("/manifest.json"))))
            meta = manifest["databases"][job["database"]]
            path = next(f for f in files if f.endswith("/" + meta["file"]))
            if not loc["target_exists"]:
                eng.create(target)
            sha = _stream_restore(repo, snap, path, eng.restore_cmd(target, clean=True, scratch=False), eng.env())
            if sha != meta["sha256"]:
                raise CheckFailedError(f"the dump read from snapshot {snap[:8]} has another checksum than the backup's")
            got = eng.digest(target)
            extra = sorted(set(got) - set(meta["digest"]))
            diff = sorted(t for t in meta["digest"] if got.get(t) != meta["digest"][t])
            if diff:
                raise CheckFailedError(f"after the restore, table(s) {', '.join(diff)} of {target} differ from the "
                                       f"backup: {[got.get(t) for t in diff]} vs {[meta['digest'][t] for t in diff]}")
            out.update({"database": job["database"], "target_database": target, "changed": True,
                        "tables": len(meta["digest"]), "rows": sum(int(v["rows"]) for v in meta["digest"].values()),
                        "tables_not_in_backup": extra, "sha256": sha})
    if job.get("paths"):
        target_dir = job.get("paths_target") or "/"
        cmd = ["restic", "restore", "--no-lock", snap, "--target", target_dir]
        for p in job["paths"]:
            cmd += ["--include", p]
        _run(cmd, env=repo.env())
        out["paths_restored_to"] = target_dir
        out["changed"] = True
    return out


def digest(job: dict[str, Any]) -> dict[str, Any]:
    """Per-table row counts and checksums of job['database'] now."""
    eng = engine_for(job)
    return {"database": job["database"], "tables": eng.digest(job["database"])}


COMMANDS = {"probe": probe, "backup": backup, "locate": locate, "restore": restore, "digest": digest}


def main(argv: list[str]) -> int:
    """Run one command; see the module docstring."""
    if len(argv) != 2 or argv[1] not in COMMANDS:
        print(f"usage: {argv[0]} {'|'.join(COMMANDS)} (job JSON in SOP_DBDATA_JOB)", file=sys.stderr)
        return 2
    try:
        job = json.loads(os.environ.get("SOP_DBDATA_JOB", "{}"))
        result = COMMANDS[argv[1]](job)
    except CheckFailedError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return CHECK_FAILED
    except (JobError, KeyError, OSError, ValueError) as exc:
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        print(f"{argv[1]} failed: {exc}", file=sys.stderr)
        return 1
    result_file = job.get("result_file")
    if result_file and argv[1] in ("backup", "restore"):
        Path(result_file).parent.mkdir(parents=True, exist_ok=True)
        Path(result_file).write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
