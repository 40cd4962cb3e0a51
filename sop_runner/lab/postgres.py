"""The lab's private PostgreSQL cluster: initdb, start/stop, SQL, dump/restore."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psycopg
from psycopg import sql

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.ports import HOST
from sop_runner.lab.procs import alive, run, tail

SUPERUSER = "postgres"
MIN_MAJOR = 15
_INSTALL_HINT = "run scripts/bootstrap.sh (installs postgresql and postgresql-contrib)"

# Throw-away lab data: durability costs seconds on every migration and template copy.
_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": f"'{HOST}'",
    "max_connections": "200",
}


def bindir() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin with initdb.

    PATH is not consulted: on this machine /usr/local/bin holds unrelated or mismatched
    pg_* binaries, and Debian never puts the versioned tools on PATH anyway.
    """
    found: list[tuple[int, Path]] = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if candidate.parent.name.isdigit() and (candidate / "initdb").is_file():
            found.append((int(candidate.parent.name), candidate))
    if not found:
        raise EnvironmentProblemError("PostgreSQL server binaries not found", hint=_INSTALL_HINT)
    major, path = max(found)
    if major < MIN_MAJOR:
        raise EnvironmentProblemError(
            f"PostgreSQL {major} is too old for NetBox (needs >= {MIN_MAJOR})", hint=_INSTALL_HINT
        )
    if not (path.parent / "lib" / "ltree.so").exists():
        raise EnvironmentProblemError(
            f"PostgreSQL {major} lacks the ltree extension NetBox needs",
            hint="apt-get install postgresql-contrib",
        )
    return path


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root; drop to the postgres account when we are."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *cmd]
    return cmd


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=SUPERUSER, group=SUPERUSER)


def log_file(paths: LabPaths) -> Path:
    return paths.logs / "postgres.log"


def initialised(paths: LabPaths) -> bool:
    return (paths.pg_data / "PG_VERSION").exists()


def init_cluster(paths: LabPaths) -> None:
    """Create the cluster with trust auth on loopback only; the lab holds no real data."""
    paths.pg_data.mkdir(mode=0o700, parents=True, exist_ok=True)
    _chown_to_postgres(paths.pg_data)
    run(
        _as_postgres(
            [
                str(bindir() / "initdb"),
                "-D",
                str(paths.pg_data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        what="initdb",
        hint=f"check that user {SUPERUSER} can write {paths.pg_data} (and traverse its parents)",
    )
    conf = paths.pg_data / "postgresql.conf"
    settings = "".join(f"{key} = {value}\n" for key, value in _SETTINGS.items())
    settings += f"unix_socket_directories = '{paths.pg_data}'\n"
    with conf.open("a") as handle:
        handle.write("\n# sop-runner lab\n" + settings)


def running_pid(paths: LabPaths) -> int | None:
    """The postmaster's pid when this lab's cluster runs."""
    return alive(paths.pg_data / "postmaster.pid", "postgres")


def running_port(paths: LabPaths) -> int | None:
    """The port from postmaster.pid (line 4), which is what the server really listens on."""
    try:
        lines = (paths.pg_data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None


def start(paths: LabPaths, port: int) -> None:
    """Start the cluster on ``port`` and wait until it accepts connections."""
    logfile = log_file(paths)
    logfile.touch()
    _chown_to_postgres(logfile)
    run(
        _as_postgres(
            [
                str(bindir() / "pg_ctl"),
                "-D",
                str(paths.pg_data),
                "-l",
                str(logfile),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        what=f"starting PostgreSQL on port {port}",
        hint=f"see {logfile}",
        timeout=90,
    )
    _wait_connectable(port, logfile)


def _wait_connectable(port: int, logfile: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with connect(port):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise EnvironmentProblemError(
                    f"PostgreSQL on port {port} does not accept connections: {exc}\n{tail(logfile)}",
                    hint=f"see {logfile}",
                ) from exc
            time.sleep(0.2)


def stop(paths: LabPaths) -> bool:
    """Stop the cluster (fast mode: the lab's sessions may be dropped); True if it ran."""
    if running_pid(paths) is None:
        return False
    run(
        _as_postgres([str(bindir() / "pg_ctl"), "-D", str(paths.pg_data), "-m", "fast", "-w", "stop"]),
        what="stopping PostgreSQL",
        hint=f"see {log_file(paths)}",
        timeout=60,
    )
    return True


def admin_url(port: int, dbname: str = "postgres") -> str:
    """A libpq URL for the superuser (trust auth on loopback, so no password)."""
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{dbname}"


def connect(port: int, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit superuser connection: CREATE/DROP DATABASE cannot run in a transaction."""
    return psycopg.connect(admin_url(port, dbname), autocommit=True, connect_timeout=5)


def database_exists(port: int, name: str) -> bool:
    with connect(port) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def database_comment(port: int, name: str) -> str | None:
    """The marker the lab writes on a template once it is complete."""
    with connect(port) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def set_database_comment(port: int, name: str, comment: str) -> None:
    with connect(port) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(comment)))


def drop_database(port: int, name: str) -> None:
    """Drop ``name``, disconnecting its sessions first (WITH FORCE, PostgreSQL >= 13)."""
    with connect(port) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(port: int, name: str, template: str | None = None) -> None:
    """Create ``name``, as a copy of ``template`` when given (its sessions are closed first)."""
    with connect(port) as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return
        # A template may not have other sessions while it is copied.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (template,),
        )
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def rename_database(port: int, old: str, new: str) -> None:
    with connect(port) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))


def has_netbox_schema(port: int, name: str) -> bool:
    """True when ``name`` holds applied Django migrations (cheap SQL, not `netbox migrate`)."""
    if not database_exists(port, name):
        return False
    with connect(port, name) as conn:
        table = conn.execute("SELECT to_regclass('public.django_migrations')").fetchone()
        if table is None or table[0] is None:
            return False
        row = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
    return row is not None and int(str(row[0])) > 0


def dump(port: int, name: str, target: Path) -> None:
    """``pg_dump -Fc`` into ``target`` atomically, so a crash never leaves a truncated cache."""
    partial = target.with_suffix(".partial")
    run(
        [
            str(bindir() / "pg_dump"),
            "-Fc",
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            SUPERUSER,
            "-f",
            str(partial),
            name,
        ],
        what=f"pg_dump of {name}",
        hint="check free disk space under the cache directory",
        timeout=600,
    )
    partial.replace(target)


def restore(port: int, name: str, source: Path) -> None:
    """Create ``name`` and load ``source`` (a ``pg_dump -Fc`` file) into it."""
    drop_database(port, name)
    create_database(port, name)
    run(
        [
            str(bindir() / "pg_restore"),
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            SUPERUSER,
            "--no-owner",
            "-j",
            "2",
            "-d",
            name,
            str(source),
        ],
        what=f"pg_restore of {source} into {name}",
        hint=f"delete the cached dump {source} so the lab rebuilds it",
        timeout=600,
    )
