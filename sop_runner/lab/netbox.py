"""NetBox itself: its venv, configuration, management commands and the gunicorn process."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import NETBOX_VERSION, LabPaths, repo_root
from sop_runner.lab.ports import HOST
from sop_runner.lab.procs import alive, run, stop_pid, tail
from sop_runner.lab.secretstore import LabSecrets
from sop_runner.secretfiles import private_dir, write_private

ADMIN_USER = "admin"
_GUNICORN = "netbox.wsgi"
# NetBox reads the database name from this variable so migrations can target the template.
DB_ENV = "SOP_LAB_NETBOX_DB"
WORKING_DB = "netbox"

_CONFIG = """\
# Written by sop_runner.lab: a throw-away lab instance. Regenerated on every `sop lab up`.
import os

ALLOWED_HOSTS = ["*"]
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("{db_env}", "{working_db}"),
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "{host}",
        "PORT": "{pg_port}",
        # Closed after each request, so tests can drop and clone databases while NetBox runs.
        "CONN_MAX_AGE": 0,
    }}
}}
REDIS = {{
    "tasks": {{"HOST": "{host}", "PORT": {redis_port}, "DATABASE": 0, "SSL": False}},
    "caching": {{"HOST": "{host}", "PORT": {redis_port}, "DATABASE": 1, "SSL": False}},
}}
SECRET_KEY = "{secret_key}"
API_TOKEN_PEPPERS = {{1: "{pepper}"}}
CENSUS_REPORTING_ENABLED = False
RELEASE_CHECK_URL = None
ISOLATED_DEPLOYMENT = True
TIME_ZONE = "Asia/Jakarta"
LOGIN_REQUIRED = True
"""

# Runs inside `netbox shell`; idempotent so a retried build does not trip over itself.
_ADMIN_SCRIPT = """\
from users.models import Token, User
user = User.objects.filter(username="{user}").first()
if user is None:
    user = User.objects.create_superuser("{user}", "admin@wonosobokab.go.id", "{password}")
if not Token.objects.filter(key="{key}").exists():
    Token(user=user, version=2, key="{key}", token="{secret}", write_enabled=True,
          description="sop-runner lab").save()
print("admin-token-ok")
"""


def venv(paths: LabPaths) -> Path:
    return paths.netbox_venv


def ensure_installed(paths: LabPaths) -> bool:
    """Install NetBox into its own venv unless present; True when it had to install."""
    if (paths.netbox_venv / ".sop-installed").exists() and (paths.netbox_venv / "bin/netbox").exists():
        return False
    script = repo_root() / "scripts" / "lab" / "install_netbox.sh"
    env = dict(os.environ, SOP_CACHE=str(paths.cache.parent), NETBOX_VERSION=NETBOX_VERSION)
    run(
        ["bash", str(script)],
        what=f"installing NetBox {NETBOX_VERSION}",
        hint="needs Python >= 3.12 (or SOP_PYTHON=/path/to/python3.12), gcc and libpq-dev: run scripts/bootstrap.sh",
        env=env,
        timeout=3600,
    )
    return True


def write_config(paths: LabPaths, pg_port: int, redis_port: int, secrets: LabSecrets) -> None:
    """NetBox's configuration.py, 0600 in 0700 directories: gunicorn runs as the lab's own
    account (``start`` has no ``--user``), the only one that must read SECRET_KEY and the pepper."""
    private_dir(paths.netbox_root)
    private_dir(paths.netbox_config.parent)
    write_private(
        paths.netbox_config,
        _CONFIG.format(
            db_env=DB_ENV,
            working_db=WORKING_DB,
            host=HOST,
            pg_port=pg_port,
            redis_port=redis_port,
            secret_key=secrets.secret_key,
            pepper=secrets.pepper,
        ),
    )


def _env(paths: LabPaths, database: str) -> dict[str, str]:
    env = dict(os.environ)
    # The project's venv must not leak into NetBox's interpreter.
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env["NETBOX_ROOT"] = str(paths.netbox_root)
    env[DB_ENV] = database
    env["PATH"] = f"{paths.netbox_venv / 'bin'}:{env.get('PATH', '')}"
    return env


def manage(paths: LabPaths, database: str, *args: str, timeout: float = 1800) -> str:
    """Run ``netbox <args>`` against ``database``."""
    logfile = paths.logs / "netbox-manage.log"
    # A `shell -c` script can carry the admin password and token secret: log that it ran, not its text.
    shown = "shell -c <script>" if args[:2] == ("shell", "-c") else " ".join(args)
    try:
        out = run(
            [str(paths.netbox_venv / "bin" / "netbox"), *args],
            what=f"netbox {' '.join(args[:2])} on database {database}",
            hint=f"see {logfile} and {paths.netbox_config}",
            env=_env(paths, database),
            cwd=paths.netbox_root,
            timeout=timeout,
        )
    except EnvironmentProblemError as exc:
        with logfile.open("a") as handle:
            handle.write(f"--- netbox {shown}\n{exc}\n")
        raise
    with logfile.open("a") as handle:
        handle.write(f"--- netbox {shown}\n{out}\n")
    return out


def migrate(paths: LabPaths, database: str) -> None:
    manage(paths, database, "migrate", "--no-input")


def create_admin(paths: LabPaths, database: str, secrets: LabSecrets) -> None:
    """Create the superuser and its v2 API token with the known plaintext."""
    script = _ADMIN_SCRIPT.format(
        user=ADMIN_USER,
        password=secrets.admin_password,
        key=secrets.token_key,
        secret=secrets.token_secret,
    )
    out = manage(paths, database, "shell", "-c", script, timeout=300)
    if "admin-token-ok" not in out:
        raise EnvironmentProblemError(
            f"creating the NetBox admin token printed no confirmation:\n{out[-1000:]}",
            hint=f"see {paths.logs / 'netbox-manage.log'}",
        )


def running_pid(paths: LabPaths) -> int | None:
    return alive(paths.netbox_pid, "gunicorn")


def start(paths: LabPaths, port: int) -> None:
    """Start gunicorn in the background; it writes its own pid file."""
    errlog = paths.logs / "netbox.log"
    cmd = [
        str(paths.netbox_venv / "bin" / "gunicorn"),
        _GUNICORN,
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "1",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--no-control-socket",
        "--daemon",
        "--pid",
        str(paths.netbox_pid),
        "--error-logfile",
        str(errlog),
        "--access-logfile",
        str(paths.logs / "netbox-access.log"),
        "--chdir",
        str(paths.netbox_root),
    ]
    # gunicorn's daemon sets its umask to 022 whatever it inherits (--umask is for unix sockets
    # only) and chmods its pid file 0644: the logs it appends to are made owner-only first.
    for log in (errlog, paths.logs / "netbox-access.log"):
        os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    subprocess.run(cmd, env=_env(paths, WORKING_DB), check=False, timeout=60)
    deadline = time.monotonic() + 15
    while running_pid(paths) is None:
        if time.monotonic() > deadline:
            raise EnvironmentProblemError(
                f"gunicorn did not start on port {port}\n{tail(errlog)}", hint=f"see {errlog}"
            )
        time.sleep(0.1)
    paths.netbox_pid.chmod(0o600)


def stop(paths: LabPaths) -> bool:
    return stop_pid(paths.netbox_pid, "gunicorn", timeout=30)


def api_status(url: str, token: str = "", timeout: float = 3) -> dict[str, object] | None:
    """/api/status/ as a dict; ``{"http_status": code}`` for an HTTP error; None if no answer."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # The URL is built from our own port file and is always http://127.0.0.1.
    request = urllib.request.Request(f"{url}/api/status/", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: dict[str, object] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        # An HTTP error still proves Django is up; the caller decides whether it matters.
        return {"http_status": exc.code}
    except (OSError, ValueError):
        return None


def wait_ready(paths: LabPaths, url: str, token: str, timeout: float = 180) -> None:
    """Wait until /api/status/ answers, failing early if gunicorn died."""
    errlog = paths.logs / "netbox.log"
    deadline = time.monotonic() + timeout
    while api_status(url, token, timeout=2) is None:
        if running_pid(paths) is None:
            raise EnvironmentProblemError(
                f"NetBox (gunicorn) exited during start-up\n{tail(errlog)}", hint=f"see {errlog}"
            )
        if time.monotonic() > deadline:
            raise EnvironmentProblemError(
                f"NetBox did not answer {url}/api/status/ within {timeout:.0f} s\n{tail(errlog)}",
                hint=f"see {errlog}",
            )
        time.sleep(0.5)
