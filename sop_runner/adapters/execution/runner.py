"""Run one playbook with ansible-runner and collect what the runner needs from it.

What the adapter guarantees, whatever the playbook does and however the run ends:

- **Data is never code.** Every extra var reaches Ansible through an ``!unsafe`` YAML file
  (see ``extravars.py``): a value that looks like Jinja is printed, never evaluated.
- **Secrets never rest in artifacts.** The secret variables reach ansible-playbook over the
  pseudo-terminal, not through the environment ansible-runner writes to ``command``
  (``secret_exec.py``); ansible-playbook censors its own output and partial events, the
  event handler censors each event before ansible-runner writes it, facts stay in memory,
  and the whole private data dir is scrubbed again when the playbook returns. Everything
  the adapter writes is 0600 in 0700 directories.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _random
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sop_runner.adapters.execution import secret_exec
from sop_runner.adapters.execution.diffs import render_task_diff
from sop_runner.adapters.execution.extravars import write_extravars
from sop_runner.adapters.execution.redact import redact_data, redact_event, scrub_run_dir

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


def ansible_env(repo_root: Path) -> dict[str, str]:
    """The settings the runner gives ansible-playbook (part of what a plan hash covers)."""
    return {
        "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(repo_root / "roles"),
        # The project's modules are the collection kominfo.sop, found through ansible.cfg's
        # collections_path and called by FQCN; no library path, so a short name cannot resolve.
        # ansible-runner appends its own callback directory to this one.
        "ANSIBLE_CALLBACK_PLUGINS": str(repo_root / "plugins" / "callback"),
        # Modules reach the local connection over stdin, not as AnsiballZ files holding their
        # arguments (a token among them) in ~/.ansible/tmp, where a killed run left them.
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


def _secret_names(secrets: list[str]) -> list[str]:
    """Environment variables holding a secret value: they reach the playbook over the pty."""
    wanted = {s for s in secrets if s}
    return sorted(k for k, v in os.environ.items() if v and v in wanted and not k.startswith("SOP_RUNNER_"))


def _job_env_only(status: dict[str, Any], runner_config: Any, secrets: list[str]) -> None:
    """Rewrite ``command`` to the environment the runner chose, before ansible-playbook starts.

    ansible-runner writes the whole process environment there (a database password or any
    token the operator exported); the job needs only the ANSIBLE_/AWX_/RUNNER_ settings.
    """
    if status.get("status") != "running":
        return
    path = Path(str(getattr(runner_config, "artifact_dir", ""))) / "command"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    keep = ("ANSIBLE_", "AWX_", "RUNNER_", "SOP_RUNNER_")
    data["env"] = redact_data({k: v for k, v in env.items() if k.startswith(keep) or k == "PATH"}, secrets)
    tmp = path.with_name("command.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    tmp.replace(path)


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

    secrets = [s for s in secrets or [] if s]
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir.chmod(0o700)
    result = PlaybookResult(status="unstarted", rc=-1)

    def handler(ev: dict[str, Any]) -> bool:
        redact_event(ev, secrets)
        _collect(result, ev)
        if on_event is not None:
            on_event(ev)
        return True  # keep the (censored) event in the artifacts too

    vars_file = write_extravars(workdir / "sop-extravars.yml", extravars)
    args = ["-m", secret_exec.__name__, "--diff"]
    if check:
        args.append("--check")
    if limit:
        args += ["--limit", limit]
    args += ["-e", f"@{vars_file}", str(playbook)]
    names = _secret_names(secrets)
    nonce = _random.token_hex(8)
    envvars = {
        **ansible_env(repo_root),
        # ansible-runner finds ansible-playbook on PATH: use the one beside this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        secret_exec.NAMES_ENV: ",".join(names),
        secret_exec.NONCE_ENV: nonce,
        **dict.fromkeys(names, ""),
    }
    passwords = {re.escape(secret_exec.prompt(nonce)): json.dumps({n: os.environ[n] for n in names})}
    old_umask = os.umask(0o077)
    envvars[secret_exec.UMASK_ENV] = f"{old_umask:o}"
    try:
        runner = ansible_runner.run(
            private_data_dir=str(workdir),
            project_dir=str(repo_root),
            playbook=str(playbook),
            binary=sys.executable,
            cmdline=shlex.join(args),
            inventory=inventory,
            envvars=envvars,
            passwords=passwords,
            ident=ident,
            quiet=True,
            event_handler=handler,
            status_handler=lambda status, runner_config: _job_env_only(status, runner_config, secrets),
            suppress_env_files=True,
            fact_cache_type="memory",
        )
    finally:
        os.umask(old_umask)
    result.status = str(runner.status)
    result.rc = int(runner.rc if runner.rc is not None else -1)
    result.artifacts = str(workdir / "artifacts" / ident)
    scrub_run_dir(workdir, secrets)
    result.errors = [str(redact_data(e, secrets)) for e in result.errors]
    if not result.ok and not result.errors:
        result.errors.append(f"ansible-playbook ended {runner.status} (rc={runner.rc}); see {result.artifacts}/stdout")
    return result
