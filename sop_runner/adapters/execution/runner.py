"""Run one playbook with ansible-runner and collect what the runner needs from it.

Secrets never reach stored artifacts: they travel in the process environment (which
ansible-runner does not write to disk), and after every run the artifacts directory is
scrubbed of every known secret value as a second line of defence.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sop_runner.adapters.execution.diffs import render_task_diff
from sop_runner.adapters.execution.redact import scrub_tree

EventSink = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class TaskResult:
    """One task on one host."""

    host: str
    task: str
    action: str
    changed: bool
    failed: bool
    skipped: bool
    diff: str
    msg: str = ""


@dataclass(slots=True)
class PlaybookResult:
    """What came out of a playbook run."""

    status: str
    rc: int
    tasks: list[TaskResult] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    artifacts: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Number of tasks that changed (or would change) something.

        Ansible censors the results of ``no_log`` tasks in their events, losing ``changed``;
        the play recap still counts them, so the larger of the two is the truth.
        """
        by_tasks = sum(1 for t in self.tasks if t.changed)
        by_recap = sum(counts.get("changed", 0) for counts in self.hosts.values())
        return max(by_tasks, by_recap)

    @property
    def diff(self) -> str:
        """All task diffs, in order."""
        return "".join(t.diff for t in self.tasks if t.diff)

    @property
    def ok(self) -> bool:
        """Whether the playbook succeeded on every host."""
        return self.status == "successful" and self.rc == 0


def _collect(result: PlaybookResult, ev: dict[str, Any]) -> None:
    name = ev.get("event", "")
    data = ev.get("event_data") or {}
    if name == "playbook_on_stats":
        artifact = data.get("artifact_data") or {}
        if isinstance(artifact, dict):
            result.stats.update(artifact)
        for key in ("ok", "changed", "failures", "dark", "skipped"):
            for host, n in (data.get(key) or {}).items():
                result.hosts.setdefault(host, {})[key] = int(n)
        return
    if name not in (
        "runner_on_ok",
        "runner_on_failed",
        "runner_on_skipped",
        "runner_on_unreachable",
        "runner_item_on_ok",
        "runner_item_on_failed",
    ):
        return
    if name.startswith("runner_item"):
        return  # the loop's summary event carries the items' diffs too
    res = data.get("res") or {}
    host = str(data.get("host", ""))
    task = str(data.get("task", ""))
    diff = ""
    if isinstance(res, dict):
        if "diff" in res:
            diff = render_task_diff(res["diff"], host, task)
        for item in res.get("results") or []:
            if isinstance(item, dict) and "diff" in item:
                diff += render_task_diff(item["diff"], host, task)
    failed = name in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors")
    msg = str(res.get("msg", "")) if isinstance(res, dict) else ""
    changed = bool(res.get("changed")) if isinstance(res, dict) else False
    result.tasks.append(
        TaskResult(
            host=host,
            task=task,
            action=str(data.get("task_action", "")),
            changed=changed,
            failed=failed,
            skipped=name == "runner_on_skipped",
            diff=diff,
            msg=msg,
        )
    )
    if failed:
        result.errors.append(f"{host}: {task}: {msg or 'failed'}")


def run_playbook(
    playbook: Path,
    *,
    extravars: dict[str, Any],
    check: bool,
    workdir: Path,
    ident: str,
    repo_root: Path,
    inventory: str | None = None,
    secrets: list[str] | None = None,
    on_event: EventSink | None = None,
    limit: str | None = None,
) -> PlaybookResult:
    """Run ``playbook`` (``--check --diff`` when ``check``) and return its results."""
    import ansible_runner

    workdir.mkdir(parents=True, exist_ok=True)
    result = PlaybookResult(status="unstarted", rc=-1)

    def handler(ev: dict[str, Any]) -> bool:
        _collect(result, ev)
        if on_event is not None:
            on_event(ev)
        return True  # keep the event in the artifacts too

    cmdline = "--diff --check" if check else "--diff"
    if limit:
        cmdline += f" --limit {limit}"
    env = {
        "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(repo_root / "roles"),
        "ANSIBLE_LIBRARY": str(repo_root / "plugins" / "modules"),
        "ANSIBLE_MODULE_UTILS": str(repo_root / "plugins" / "module_utils"),
        "ANSIBLE_FILTER_PLUGINS": str(repo_root / "plugins" / "filter"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # ansible-runner finds ansible-playbook on PATH: use the one beside this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # ansible-runner writes ``envvars`` into env/ on disk; only non-secret settings go there.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        runner = ansible_runner.run(
            private_data_dir=str(workdir),
            project_dir=str(repo_root),
            playbook=str(playbook),
            inventory=inventory,
            extravars=extravars,
            cmdline=cmdline,
            ident=ident,
            quiet=True,
            event_handler=handler,
            suppress_env_files=True,
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    result.status = str(runner.status)
    result.rc = int(runner.rc if runner.rc is not None else -1)
    result.artifacts = str(workdir / "artifacts" / ident)
    if secrets:
        scrub_tree(workdir, secrets)
    if not result.ok and not result.errors:
        result.errors.append(f"ansible-playbook ended {runner.status} (rc={runner.rc}); see {result.artifacts}/stdout")
    return result
