"""Who may read the lab's files: only the account that runs the lab.

Every file that holds a secret (the NetBox token, NetBox's SECRET_KEY and token pepper, the
database passwords, private keys) is 0600, in a 0700 directory where the lab's own account is
the only one that needs it. Two kinds of directory must stay passable for service accounts:
``.lab`` itself (PostgreSQL runs as ``postgres`` from ``.lab/pg``, MariaDB as ``mysql`` from
``.lab/db/mariadb``, the FRR daemons and the router SSH user from ``.lab/routers``) and the
directories those services write into (``logs``, ``db``). They are 0711: another account can
reach the path it is told, but cannot list the directory or read a file in it, since no
file under ``.lab`` is readable by others.

:func:`secure` applies all of this to a lab that exists (one created before these rules, or
by hand); ``sop lab up`` calls it every time, running or not.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import LabPaths
from sop_runner.secretfiles import PRIVATE_DIR, PRIVATE_FILE, restrict, write_private

__all__ = ["PASSABLE_DIR", "PASSABLE_DIRS", "PRIVATE_DIRS", "SECRET_FILES", "secret_files", "secure"]

PASSABLE_DIR = 0o711
# Relative to .lab: the directories a service account (postgres, mysql) must pass through.
PASSABLE_DIRS = ("", "logs", "db")
# Relative to .lab: only the lab's account (NetBox, Redis, sushy and the runner run as it).
PRIVATE_DIRS = ("netbox", "netbox/conf", "run", "redis", "keys", "runner", "libvirt/ssh", "libvirt/bmc")
# Relative to .lab: the files that hold a secret.
SECRET_FILES = (
    "lab.json",  # the NetBox token
    "netbox.env",  # the NetBox token
    "netbox/conf/configuration.py",  # SECRET_KEY, API_TOKEN_PEPPERS
    "db/state.json",  # the database admin and restic passwords
    "libvirt/ssh/id_ed25519",  # the operator key of the lab VMs
    "libvirt/bmc/bmc.key",  # the Redfish BMC's TLS key
)
# Owned and moded by the service that runs there (initdb and MariaDB make them 0700 already),
# or by scripts/lab/routers.sh, whose daemons run as other accounts.
_NOT_OURS = ("pg", "db/pg", "db/mariadb", "routers")
# `netbox shell -c SCRIPT` was logged with its script, admin password and token included.
_MANAGE_LOG = "logs/netbox-manage.log"


def secret_files(paths: LabPaths) -> list[Path]:
    """Every secret-holding file of the lab that exists, the personas' private keys included."""
    found = [paths.root / name for name in SECRET_FILES]
    keys = paths.root / "keys"
    if keys.is_dir():
        found += sorted(p for p in keys.iterdir() if not p.name.endswith(".pub"))
    found += [paths.secrets_file, *sorted(paths.cache.glob("*.dump"))]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def secure(paths: LabPaths) -> list[str]:
    """Narrow the lab's directories and files to the rules above; returns what it changed."""
    changed: list[str] = []
    if not paths.root.is_dir():
        return changed
    for name in PASSABLE_DIRS:
        if restrict(paths.root / name, PASSABLE_DIR):
            changed.append(f"{paths.root / name} -> 0711")
    for path in (*(paths.root / name for name in PRIVATE_DIRS), paths.cache):
        if restrict(path, PRIVATE_DIR):
            changed.append(f"{path} -> 0700")
    _scrub_manage_log(paths)
    for path in secret_files(paths):
        _require_ours(path)
        if restrict(path, PRIVATE_FILE):
            changed.append(f"{path} -> 0600")
    changed += _close_to_others(paths.root)
    return changed


def _require_ours(path: Path) -> None:
    """A secret must belong to the account that reads it (NetBox runs as the lab's account)."""
    owner = path.stat().st_uid
    if owner != os.geteuid():
        raise EnvironmentProblemError(
            f"{path} holds a secret but belongs to uid {owner}, not to the lab's account (uid {os.geteuid()})",
            hint=f"run `sop lab up` as the account that created the lab, or chown {path} to it",
        )


def _close_to_others(root: Path) -> list[str]:
    """Remove every permission of 'others' on files, and read/write on directories.

    Directories keep the others' execute bit where they have it: a service account may be
    passing through to its own directory further down.
    """
    changed: list[str] = []
    skipped = {root / name for name in _NOT_OURS}
    for top, dirs, files in os.walk(root):
        here = Path(top)
        dirs[:] = [d for d in dirs if here / d not in skipped]
        for name in [*dirs, *files]:
            path = here / name
            info = path.lstat()
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                continue  # sockets, links, fifos: their mode is not what protects them
            drop = 0o006 if stat.S_ISDIR(info.st_mode) else 0o007
            if info.st_mode & drop and _may_chmod(info):
                path.chmod(stat.S_IMODE(info.st_mode) & ~drop)
                changed.append(f"{path}: no access for others")
    return changed


def _may_chmod(info: os.stat_result) -> bool:
    return os.geteuid() in (0, info.st_uid)


def _scrub_manage_log(paths: LabPaths) -> None:
    """Replace the admin password and token secret in a log written before they were redacted."""
    log = paths.root / _MANAGE_LOG
    if not (log.is_file() and paths.secrets_file.is_file()):
        return
    stored = json.loads(paths.secrets_file.read_text(encoding="utf-8"))
    values = [str(stored.get(key, "")) for key in ("admin_password", "token_secret", "secret_key", "pepper")]
    text = log.read_text(encoding="utf-8", errors="replace")
    scrubbed = text
    for value in values:
        if value:
            scrubbed = scrubbed.replace(value, "***")
    if scrubbed != text:
        write_private(log, scrubbed)
