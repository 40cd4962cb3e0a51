"""Helpers for the data SOP tests: playbook driver, SQL on the lab database host, names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop_runner.lab import dbservers
from sop_runner.lab.paths import repo_root

REPO = repo_root()
ANSIBLE_PLAYBOOK = str(REPO / ".venv" / "bin" / "ansible-playbook")

@dataclass
class Play:
    """The outcome of one ansible-playbook run."""

    rc: int
    out: str
    changed: int
    failed: int

    def msg_of_failure(self) -> str:
        """The text of the failed tasks' messages."""
        return "\n".join(re.findall(r"(?:msg|FAILED!).*", self.out))

def run_playbook(playbook: str, extravars: dict[str, Any], tmp: Path, *, check: bool = False) -> Play:
    """Run a playbook of the repository with extra vars (as JSON), return rc and the recap."""
    varfile = tmp / f"vars-{uuid.uuid4().hex[:6]}.json"
    varfile.write_text(json.dumps(extravars), encoding="utf-8")
    cmd = [ANSIBLE_PLAYBOOK, str(REPO / "playbooks" / playbook), "-e", f"@{varfile}"]
    if check:
        cmd += ["--check", "--diff"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", out)
    changed, failed = (int(recap.group(1)), int(recap.group(2))) if recap else (-1, -1)
    return Play(proc.returncode, out, changed, failed)

def psql(db: dbservers.DbServers, database: str, sql: str) -> list[list[str]]:
    """Rows of a query on the lab PostgreSQL."""
    env = {**os.environ, "PGPASSWORD": db.password}
    proc = subprocess.run(["psql", "-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                           "-p", str(db.pg_port), "-U", db.pg_user, "-d", database],
                          input=sql, env=env, capture_output=True, text=True, check=True)
    return [line.split("|") for line in proc.stdout.splitlines() if line]

def mariadb(db: dbservers.DbServers, database: str, sql: str) -> list[list[str]]:
    """Rows of a query on the lab MariaDB."""
    env = {**os.environ, "MYSQL_PWD": db.password}
    cmd = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(db.mariadb_port), "-u", db.mariadb_user,
           "--protocol=TCP", "--batch", "--skip-column-names"]
    if database:
        cmd.append(database)
    proc = subprocess.run(cmd, input=sql, env=env, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in proc.stdout.splitlines() if line]

def unique(prefix: str) -> str:
    """A database name no other test (or engineer) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"

def restore_vars_from(bv: dict[str, Any]) -> dict[str, Any]:
    """Restore role variables over the repositories of a backup_vars dict."""
    return {
        "restore_repository": bv["backup_repository"],
        "restore_offsite_repository": bv["backup_offsite_repository"],
        "restore_repository_password": bv["backup_repository_password"],
        "restore_state_dir": bv["backup_state_dir"],
        "restore_report_dir": bv["backup_report_dir"],
    }
