"""The lab's "database host": a PostgreSQL cluster and a MariaDB server on loopback.

Separate from the NetBox lab's PostgreSQL (own data dir, own port) so the data SOPs (12, 13,
30-37) can create, fill, drop and restore databases without touching NetBox. Everything
lives under ``<repo>/.lab/db/``:

- ``pg/``       PostgreSQL data dir, socket dir and log (superuser ``postgres``, password auth on TCP)
- ``mariadb/``  MariaDB data dir, socket, pid and log (admin ``sop_dba``, password auth on TCP)
- ``backup/``   the data centre's own backup area (the local restic repository goes here)
- ``offsite/``  stands for "outside the data centre" (SOP 12 step 6): the second repository
- ``state.json`` ports, the admin password and the restic password (mode 0600)

``python -m sop_runner.lab.dbservers up|down|status|env`` — idempotent; ``env`` prints
shell exports (``SOP_DB_*``) for playbooks run by hand.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import repo_root
from sop_runner.lab.ports import HOST, free_port, port_is_free
from sop_runner.secretfiles import write_private

__all__ = ["DbServers", "down", "main", "status", "up"]

_INSTALL_HINT = "run scripts/bootstrap.sh (installs scripts/packages/data.txt: mariadb-server, restic)"
# Lab data is throw-away: durability costs seconds on every restore test.
_PG_SETTINGS = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", f"listen_addresses={HOST}"]


@dataclass(frozen=True)
class DbServers:
    """Where the lab's database host answers."""

    root: str
    pg_port: int
    pg_user: str
    mariadb_port: int
    mariadb_user: str
    password: str
    backup_dir: str
    offsite_dir: str
    backup_password: str = ""
    pg_running: bool = False
    mariadb_running: bool = False

    def env(self) -> dict[str, str]:
        """The SOP_DB_* environment a playbook run by hand (or a test) uses."""
        return {
            "SOP_DB_HOST": HOST,
            "SOP_DB_PG_PORT": str(self.pg_port),
            "SOP_DB_PG_USER": self.pg_user,
            "SOP_DB_MARIADB_PORT": str(self.mariadb_port),
            "SOP_DB_MARIADB_USER": self.mariadb_user,
            "SOP_DB_PASSWORD": self.password,
            "SOP_DB_BACKUP_DIR": self.backup_dir,
            "SOP_DB_OFFSITE_DIR": self.offsite_dir,
            # The restic repositories the backup and restore roles default to.
            "SOP_BACKUP_REPOSITORY": f"{self.backup_dir}/restic",
            "SOP_BACKUP_OFFSITE_REPOSITORY": f"{self.offsite_dir}/restic",
            "SOP_BACKUP_PASSWORD": self.backup_password,
        }


def _root() -> Path:
    env = os.environ.get("SOP_DB_LAB_DIR")
    return Path(env).resolve() if env else repo_root() / ".lab" / "db"


def _pg_bindir() -> Path:
    found = sorted(
        (int(p.parent.name), p) for p in Path("/usr/lib/postgresql").glob("*/bin")
        if p.parent.name.isdigit() and (p / "initdb").is_file()
    )
    if not found:
        raise EnvironmentProblemError("PostgreSQL server binaries not found", hint=_INSTALL_HINT)
    return found[-1][1]


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise EnvironmentProblemError(f"{binary} not found on PATH", hint=_INSTALL_HINT)
    return path


def _run(cmd: list[str], *, user: str | None = None, stdin: str | None = None, timeout: float = 120) -> str:
    if user and os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--", *cmd]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise EnvironmentProblemError(
            f"{' '.join(cmd[:4])} … failed (rc {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}",
            hint=f"see the logs under {_root()}",
        )
    return proc.stdout


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=user, group=user)


def _load_state(root: Path) -> dict[str, object]:
    f = root / "state.json"
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}


def _save_state(root: Path, state: dict[str, object]) -> None:
    write_private(root / "state.json", json.dumps(state, indent=2))


def _pick_port(state: dict[str, object], key: str) -> int:
    port = state.get(key)
    if isinstance(port, int):
        return port
    return free_port()


def _wait(predicate: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.2)
    raise EnvironmentProblemError(f"{what} did not come up in {timeout:.0f} s", hint=f"see the logs under {_root()}")


# -- PostgreSQL ---------------------------------------------------------------------------
def _pg_running(root: Path) -> bool:
    pidfile = root / "pg" / "data" / "postmaster.pid"
    if not pidfile.is_file():
        return False
    try:
        pid = int(pidfile.read_text(encoding="utf-8").splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def _pg_up(root: Path, port: int, password: str) -> None:
    bindir = _pg_bindir()
    pg = root / "pg"
    data, sock = pg / "data", pg / "run"
    for d in (pg, sock):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d, "postgres")
    if not (data / "PG_VERSION").is_file():
        pwfile = pg / "pwfile"
        # Born 0600 and ours, then given to initdb's account: never readable by anyone else.
        write_private(pwfile, password + "\n")
        _chown(pwfile, "postgres")
        try:
            _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                  "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
                 user="postgres", timeout=180)
        finally:
            pwfile.unlink(missing_ok=True)
    if _pg_running(root):
        return
    if not port_is_free(port):
        raise EnvironmentProblemError(f"port {port} for the lab's database PostgreSQL is taken",
                                      hint=f"remove {root / 'state.json'} to pick new ports")
    opts = f"-p {port} -k {sock} " + " ".join(f"-c {s}" for s in _PG_SETTINGS)
    _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(pg / "postgres.log"), "-o", opts, "-w", "-t", "60",
          "start"], user="postgres", timeout=90)


def _pg_down(root: Path) -> None:
    if _pg_running(root):
        _run([str(_pg_bindir() / "pg_ctl"), "-D", str(root / "pg" / "data"), "-m", "fast", "-w", "stop"],
             user="postgres", timeout=90)


# -- MariaDB ------------------------------------------------------------------------------
def _maria_pid(root: Path) -> int | None:
    pidfile = root / "mariadb" / "run" / "mariadbd.pid"
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def _maria_sql(root: Path, sql: str) -> str:
    # root over the socket authenticates as the OS user (unix_socket), no password needed.
    return _run([_need("mariadb"), f"--socket={root / 'mariadb' / 'run' / 'mysqld.sock'}", "-u", "root",
                 "--batch", "--skip-column-names"], stdin=sql)


def _maria_up(root: Path, port: int, password: str) -> None:
    base = root / "mariadb"
    data, run = base / "data", base / "run"
    for d in (base, run):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d, "mysql")
    # Its log and socket are for mysql and root only (the lab's tests and tools run as root).
    base.chmod(0o700)
    fresh = not (data / "mysql").is_dir()
    if fresh:
        _run([_need("mariadb-install-db"), f"--datadir={data}", "--user=mysql", "--skip-test-db",
              "--auth-root-authentication-method=socket"], timeout=180)
    if _maria_pid(root) is None:
        if not port_is_free(port):
            raise EnvironmentProblemError(f"port {port} for the lab's MariaDB is taken",
                                          hint=f"remove {root / 'state.json'} to pick new ports")
        log = os.fdopen(os.open(base / "mariadbd.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        subprocess.Popen(
            [shutil.which("mariadbd") or "/usr/sbin/mariadbd",
             "--no-defaults", f"--datadir={data}", f"--port={port}", f"--bind-address={HOST}",
             f"--socket={run / 'mysqld.sock'}", f"--pid-file={run / 'mariadbd.pid'}", "--user=mysql",
             "--skip-log-bin", "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
             "--performance-schema=OFF"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: (run / "mysqld.sock").exists() and _maria_pid(root) is not None, "MariaDB")
    pw = password.replace("'", "''")
    _maria_sql(root, "\n".join(
        f"CREATE USER IF NOT EXISTS 'sop_dba'@'{h}' IDENTIFIED BY '{pw}';"
        f"GRANT ALL PRIVILEGES ON *.* TO 'sop_dba'@'{h}' WITH GRANT OPTION;" for h in (HOST, "localhost")))


def _maria_down(root: Path) -> None:
    pid = _maria_pid(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    _wait(lambda: _maria_pid(root) is None, "MariaDB shutdown", timeout=60)


# -- public -------------------------------------------------------------------------------
def _describe(root: Path, state: dict[str, object]) -> DbServers:
    return DbServers(
        root=str(root), pg_port=int(state.get("pg_port", 0)), pg_user="postgres",  # type: ignore[call-overload]
        mariadb_port=int(state.get("mariadb_port", 0)), mariadb_user="sop_dba",  # type: ignore[call-overload]
        password=str(state.get("password", "")), backup_dir=str(root / "backup"), offsite_dir=str(root / "offsite"),
        backup_password=str(state.get("backup_password", "")),
        pg_running=_pg_running(root), mariadb_running=_maria_pid(root) is not None,
    )


def up() -> DbServers:
    """Start both servers (initialising them the first time); a no-op when they run."""
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    # Passable, not listable: postgres and mysql reach their data dirs below; state.json is 0600.
    root.chmod(0o711)
    state = _load_state(root)
    state.setdefault("password", secrets.token_urlsafe(18))
    state.setdefault("backup_password", secrets.token_urlsafe(24))
    state["pg_port"] = _pick_port(state, "pg_port")
    state["mariadb_port"] = _pick_port(state, "mariadb_port")
    _save_state(root, state)
    for d in ("backup", "offsite"):
        (root / d).mkdir(exist_ok=True)
    _pg_up(root, int(state["pg_port"]), str(state["password"]))  # type: ignore[call-overload]
    _maria_up(root, int(state["mariadb_port"]), str(state["password"]))  # type: ignore[call-overload]
    return _describe(root, state)


def down() -> DbServers:
    """Stop both servers; data stays for the next ``up``."""
    root = _root()
    state = _load_state(root)
    _pg_down(root)
    _maria_down(root)
    return _describe(root, state)


def status() -> DbServers:
    """Ports and whether each server runs."""
    root = _root()
    return _describe(root, _load_state(root))


def main(argv: list[str] | None = None) -> int:
    """``up``, ``down``, ``status`` (JSON) or ``env`` (shell exports)."""
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else "status"
    actions = {"up": up, "down": down, "status": status, "env": status}
    if cmd not in actions:
        print("usage: python -m sop_runner.lab.dbservers up|down|status|env", file=sys.stderr)
        return 2
    try:
        info = actions[cmd]()
    except EnvironmentProblemError as exc:
        print(f"error: {exc}\n  hint: {exc.hint}", file=sys.stderr)
        return 1
    if cmd == "env":
        print("\n".join(f"export {k}={v}" for k, v in info.env().items()))
    else:
        shown = asdict(info) | {"password": "***", "backup_password": "***"}
        print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
