"""Run the dc_assets playbooks as the runner would (check + diff for a plan), with the JSON callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop_runner.config import repo_root


@dataclass
class PlayResult:
    """Exit code, changed count, the published sop_plan and the failure messages."""

    rc: int
    changed: int
    plan: dict[str, Any]
    failures: list[str]


def run_playbook(playbook: str, extravars: dict[str, Any], *, check: bool = False) -> PlayResult:
    root = repo_root()
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(root / "playbooks" / playbook),
           "-e", json.dumps(extravars), "--diff"] + (["--check"] if check else [])
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_SHOW_CUSTOM_STATS": "true"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=300, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return PlayResult(proc.returncode, -1, {}, [proc.stderr[-3000:] or proc.stdout[-3000:]])
    failures = [str(t["hosts"]["localhost"].get("msg")) for p in data.get("plays", []) for t in p.get("tasks", [])
                if t.get("hosts", {}).get("localhost", {}).get("failed")]
    return PlayResult(proc.returncode, int(data["stats"].get("localhost", {}).get("changed", 0)),
                      data.get("global_custom_stats", {}).get("sop_plan", {}), failures)
