"""up / down / status / reset: the lab's lifecycle, with clean rollback on failure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from sop_runner.errors import ConflictError, EnvironmentProblemError
from sop_runner.lab import databases, netbox, postgres, redis, seed
from sop_runner.lab.lock import lab_lock, session_holder
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.permissions import secure
from sop_runner.lab.ports import choose_port, require_free
from sop_runner.lab.secretstore import LabSecrets, load_or_create
from sop_runner.lab.state import (
    ComponentStatus,
    LabStatus,
    Ports,
    load_ports,
    netbox_url,
    read_env_file,
    save_ports,
    write_client_files,
)
from sop_runner.secretfiles import private_umask

PG_PORT_ENV = "SOP_LAB_PG_PORT"
REDIS_PORT_ENV = "SOP_LAB_REDIS_PORT"
NETBOX_PORT_ENV = "SOP_LAB_NETBOX_PORT"
# A loaded 2-core machine can take seconds to answer; these bound how long we wait.
_STATUS_PROBE_S = 5.0
_BUSY_NETBOX_GRACE_S = 90.0


class _Timer:
    """Collects the duration of each step for the summary `up` prints."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.monotonic()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - began, 2)

    def total(self) -> float:
        return round(time.monotonic() - self._start, 2)


def status(paths: LabPaths | None = None) -> LabStatus:
    """What runs now, from the pid files and ports recorded in the lab directory."""
    paths = paths or LabPaths.default()
    ports = load_ports(paths)
    pg_pid = postgres.running_pid(paths)
    redis_pid = redis.running_pid(paths)
    nb_pid = netbox.running_pid(paths)
    url = netbox_url(ports) if ports else ""
    token = read_env_file(paths.netbox_env).get("NETBOX_TOKEN", "")
    detail = ""
    version = ""
    if nb_pid and url:
        answer = netbox.api_status(url, token, timeout=_STATUS_PROBE_S)
        if answer is None:
            detail = "not answering /api/status/"
        elif "http_status" in answer:
            detail = f"/api/status/ answered HTTP {answer['http_status']}"
        else:
            version = str(answer.get("netbox-version", ""))
    components = [
        ComponentStatus(
            "postgres",
            pg_pid is not None,
            pg_pid,
            postgres.running_port(paths) if pg_pid else None,
            str(paths.pg_data),
        ),
        ComponentStatus("redis", redis_pid is not None, redis_pid, ports.redis if ports else None),
        ComponentStatus(
            "netbox",
            nb_pid is not None and not detail,
            nb_pid,
            ports.netbox if ports else None,
            detail,
        ),
    ]
    return LabStatus(
        lab_dir=str(paths.root),
        components=components,
        netbox_url=url if nb_pid else "",
        netbox_token=token if nb_pid else "",
        netbox_version=version,
    )


def up(paths: LabPaths | None = None) -> LabStatus:
    """Start whatever of the lab is not running; on failure stop what this call started."""
    paths = paths or LabPaths.default()
    # What the lab creates from here on, and what the services it starts create (logs, pid
    # files, dumps), is readable by the lab's account only.
    with private_umask(), lab_lock(paths):
        return _up_locked(paths)


def _up_locked(paths: LabPaths) -> LabStatus:
    attempt = _Attempt(paths)
    paths.make_dirs()
    # Before anything else, running or not: a lab made before the files were private is
    # fixed by its next `up`, without a restart.
    secure(paths)
    current = _status_waiting_for_busy_netbox(paths)
    if current.running:
        current.already_running = True
        current.timings = {"total": attempt.timer.total()}
        return current

    try:
        with attempt.timer.step("netbox_install"):
            if netbox.ensure_installed(paths):
                attempt.started.append("netbox venv installed")
        secrets = load_or_create(paths)
        ports = attempt.start_services()
        netbox.write_config(paths, ports.postgres, ports.redis, secrets)
        attempt.prepare_databases(ports, secrets)
        write_client_files(paths, ports, secrets.token)
    except BaseException:
        attempt.rollback()
        raise
    result = status(paths)
    result.started = attempt.started
    result.timings = {**attempt.timer.timings, "total": attempt.timer.total()}
    return result


def _status_waiting_for_busy_netbox(paths: LabPaths) -> LabStatus:
    """The status, after giving a running but unresponsive NetBox time to answer.

    On a loaded machine gunicorn can miss a few-second probe; restarting it then would cut
    off every other client of the lab, so only a NetBox that stays silent is restarted.
    """
    current = status(paths)
    services_up = all(c.running for c in current.components if c.name != "netbox")
    ports = load_ports(paths)
    if current.running or not services_up or ports is None:
        return current
    if netbox.running_pid(paths) is None:
        return current
    token = read_env_file(paths.netbox_env).get("NETBOX_TOKEN", "")
    with suppress(EnvironmentProblemError):
        netbox.wait_ready(paths, netbox_url(ports), token, timeout=_BUSY_NETBOX_GRACE_S)
    return status(paths)


@dataclass
class _Attempt:
    """One `up`: what it started (to undo on failure), what it reports, how long it took."""

    paths: LabPaths
    timer: _Timer = field(default_factory=_Timer)
    undo: list[Callable[[], object]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def start_services(self) -> Ports:
        paths, timer = self.paths, self.timer
        previous = load_ports(paths)
        pg_port = postgres.running_port(paths) if postgres.running_pid(paths) else None
        if pg_port is None:
            pg_port = choose_port(PG_PORT_ENV, previous.postgres if previous else None)
            require_free("PostgreSQL", pg_port, PG_PORT_ENV)
            with timer.step("postgres"):
                if not postgres.initialised(paths):
                    postgres.init_cluster(paths)
                postgres.start(paths, pg_port)
            self.undo.append(lambda: postgres.stop(paths))
            self.started.append(f"postgres on 127.0.0.1:{pg_port}")

        redis_port = previous.redis if previous and redis.running_pid(paths) else None
        if redis_port is None:
            redis.stop(paths)
            redis_port = choose_port(REDIS_PORT_ENV, previous.redis if previous else None)
            require_free("Redis", redis_port, REDIS_PORT_ENV)
            with timer.step("redis"):
                redis.start(paths, redis_port)
            self.undo.append(lambda: redis.stop(paths))
            self.started.append(f"redis on 127.0.0.1:{redis_port}")

        # A gunicorn that is running here failed to answer (see up): restart it.
        netbox.stop(paths)
        nb_port = choose_port(NETBOX_PORT_ENV, previous.netbox if previous else None)
        ports = Ports(postgres=pg_port, redis=redis_port, netbox=nb_port)
        save_ports(paths, ports)
        # Checked before the database work, not only at bind time, so a taken port fails fast.
        require_free("NetBox", nb_port, NETBOX_PORT_ENV)
        return ports

    def start_netbox(self, ports: Ports, token: str) -> None:
        url = netbox_url(ports)
        require_free("NetBox", ports.netbox, NETBOX_PORT_ENV)
        with self.timer.step("netbox_ready"):
            netbox.start(self.paths, ports.netbox)
            self.undo.append(lambda: netbox.stop(self.paths))
            netbox.wait_ready(self.paths, url, token)
        self.started.append(f"netbox (gunicorn) on {url}")

    def prepare_databases(self, ports: Ports, secrets: LabSecrets) -> None:
        paths, timer = self.paths, self.timer
        digest = seed.digest()
        with timer.step("seeded_template"):
            seeded = databases.ensure_seeded_from_cache(paths, ports.postgres, digest)
        if seeded is None:
            # Only a missing seeded template needs the migrated one (and NetBox) to rebuild it.
            with timer.step("template"):
                how = databases.ensure_template(paths, ports.postgres, secrets)
            if how != "present":
                self.started.append(f"template database {how}")
            databases.recreate_working(ports.postgres, template=databases.TEMPLATE_DB)
            self.start_netbox(ports, secrets.token)
            with timer.step("seed_load"):
                import pynetbox

                report = seed.load(pynetbox.api(netbox_url(ports), token=secrets.token))
            self.started.append(f"seed loaded ({report.total_created} objects created)")
            with timer.step("seeded_snapshot"):
                databases.snapshot_seeded(paths, ports.postgres, digest)
            return
        if seeded == "restored" or not databases.working_usable(ports.postgres):
            with timer.step("working_db"):
                databases.recreate_working(ports.postgres)
            self.started.append(f"working database from {databases.SEEDED_DB} ({seeded})")
        self.start_netbox(ports, secrets.token)

    def rollback(self) -> None:
        """Stop, newest first, what this attempt started; a failing stop must not hide the cause."""
        for stop in reversed(self.undo):
            with suppress(Exception):
                stop()


def down(paths: LabPaths | None = None, *, force: bool = False) -> list[str]:
    """Stop the lab's processes (by their pid files); returns what was stopped.

    Refuses while a test session holds the lab (it would fail that session's tests at
    random) unless ``force``.
    """
    paths = paths or LabPaths.default()
    holder = session_holder(paths)
    if holder and not force:
        raise ConflictError(
            f"the lab is in use by a test session ({holder})",
            hint="wait for it to finish, or `sop lab down --force`",
        )
    with lab_lock(paths):
        return _down_locked(paths)


def _down_locked(paths: LabPaths) -> list[str]:
    stopped: list[str] = []
    if netbox.stop(paths):
        stopped.append("netbox")
    if redis.stop(paths):
        stopped.append("redis")
    if postgres.stop(paths):
        stopped.append("postgres")
    return stopped


def reset(paths: LabPaths | None = None) -> float:
    """Bring NetBox back to the seed state in seconds; returns the time it took."""
    paths = paths or LabPaths.default()
    with lab_lock(paths):
        # Timed inside the lock: waiting for another process's `up` is not the reset's cost.
        began = time.monotonic()
        _reset_locked(paths)
        return round(time.monotonic() - began, 2)


def _reset_locked(paths: LabPaths) -> None:
    current = status(paths)
    if not current.running:
        down_parts = ", ".join(c.name for c in current.components if not c.running)
        raise EnvironmentProblemError(
            f"the lab is not running ({down_parts} down), nothing to reset",
            hint="run `sop lab up` first",
        )
    ports = load_ports(paths)
    if ports is None or not postgres.database_exists(ports.postgres, databases.SEEDED_DB):
        raise EnvironmentProblemError(
            f"the seeded template database {databases.SEEDED_DB} is missing",
            hint="run `sop lab down && sop lab up` to rebuild it",
        )
    databases.recreate_working(ports.postgres)
    redis.flush(ports.redis)


def postgres_admin_url(dbname: str = "postgres", paths: LabPaths | None = None) -> str:
    """Superuser URL for ``dbname`` in the lab's cluster (tests create scratch databases)."""
    paths = paths or LabPaths.default()
    if postgres.running_pid(paths) is None:
        raise EnvironmentProblemError("the lab's PostgreSQL is not running", hint="run `sop lab up`")
    port = postgres.running_port(paths)
    if port is None:
        raise EnvironmentProblemError(
            f"cannot read the port from {paths.pg_data / 'postmaster.pid'}",
            hint="run `sop lab down && sop lab up`",
        )
    return postgres.admin_url(port, dbname)
