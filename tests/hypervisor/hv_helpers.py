"""Helpers for the hypervisor tests: run a playbook as the runner would, unique names, cleanup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop_runner.config import repo_root
from sop_runner.lab import hypervisor


@dataclass
class PlayResult:
    """One ansible-playbook run: exit code, changed count, the sop_plan stats, failure messages."""

    rc: int
    changed: int
    plan: dict[str, Any]
    failures: list[str]
    results: dict[str, Any]
    raw: str


def run_playbook(playbook: str, extravars: dict[str, Any], *, check: bool = False, timeout: float = 600) -> PlayResult:
    """Run a playbook of the repository with the JSON callback, as the runner would (check + diff for a plan)."""
    root = repo_root()
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(root / "playbooks" / playbook),
           "-e", json.dumps(extravars), "--diff"]
    if check:
        cmd.append("--check")
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_SHOW_CUSTOM_STATS": "true"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=timeout, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return PlayResult(proc.returncode, -1, {}, [proc.stderr[-3000:] or proc.stdout[-3000:]], {}, proc.stdout)
    stats = data.get("stats", {}).get("localhost", {})
    plan = data.get("global_custom_stats", {}).get("sop_plan", {})
    failures = []
    results: dict[str, Any] = {}
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            res = task.get("hosts", {}).get("localhost", {})
            results[task["task"]["name"]] = res
            if res.get("failed") and not res.get("ignore_errors"):
                failures.append(str(res.get("msg", res)))
    return PlayResult(proc.returncode, int(stats.get("changed", 0)), plan, failures, results, proc.stdout)


def unique_name(prefix: str) -> str:
    """A VM name no other test (or engineer) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def destroy_domain(name: str) -> None:
    """Stop and remove a test domain whatever state it is in (cleanup only)."""
    uri = hypervisor.URI
    subprocess.run(["virsh", "-c", uri, "destroy", name], capture_output=True, check=False)
    subprocess.run(["virsh", "-c", uri, "undefine", name], capture_output=True, check=False)
    pool = hypervisor.HypervisorPaths.default().pool
    for f in pool.glob(f"{name}.qcow2*"):
        f.unlink()
