"""``ansible-playbook`` with its secrets handed over a pipe, and with a censored output.

ansible-runner writes the job's whole environment into ``artifacts/<ident>/command`` before
the playbook starts, and the callback writes every event to ``job_events/*-partial.json`` as
it happens; a run killed mid-playbook left the NetBox token in both. So the runner starts
this module instead of ``ansible-playbook``, with the secret variables present but empty.
It prints a prompt that carries a per-run nonce; ansible-runner's expect loop answers with a
JSON object of the secret values, written to the pseudo-terminal with echo off (so never into
``stdout``). This module puts them into its own environment, where the playbook's
``lookup('env', …)`` and modules find them, then runs ansible-playbook in this process with
every displayed line and every event censored of those values before they are written.
"""

from __future__ import annotations

import functools
import json
import os
import select
import sys
from collections.abc import Callable
from typing import Any

from sop_runner.adapters.execution.redact import redact_data, redact_text

NAMES_ENV = "SOP_RUNNER_SECRET_ENV"
NONCE_ENV = "SOP_RUNNER_SECRET_NONCE"
UMASK_ENV = "SOP_RUNNER_CHILD_UMASK"
ANSWER_TIMEOUT_S = 60


def prompt(nonce: str) -> str:
    """The line this module prints to ask for the secrets."""
    return f"sop-runner secrets {nonce}: "


def _receive(names: list[str]) -> list[str]:
    sys.stdout.write(prompt(os.environ.get(NONCE_ENV, "")))
    sys.stdout.flush()
    # ansible-runner answers within its expect loop; a runner that never does must not leave
    # a playbook waiting for ever.
    ready, _, _ = select.select([sys.stdin], [], [], ANSWER_TIMEOUT_S)
    if not ready:
        sys.stderr.write(f"sop-runner: no secrets received within {ANSWER_TIMEOUT_S} s; not running the playbook\n")
        raise SystemExit(70)
    line = sys.stdin.readline()
    values = json.loads(line) if line.strip() else {}
    if not isinstance(values, dict):
        values = {}
    for name in names:
        os.environ[name] = str(values.get(name, ""))
    return [os.environ[n] for n in names if os.environ[n]]


def _censor_display(secrets: list[str]) -> None:
    from ansible.utils.display import Display

    original: Callable[..., None] = Display.display

    @functools.wraps(original)
    def display(self: Any, msg: str, *args: Any, **kwargs: Any) -> None:
        original(self, redact_text(msg, secrets) if isinstance(msg, str) else msg, *args, **kwargs)

    Display.display = display


class _CensoringCache:
    """Wraps ansible-runner's partial-event writer: an event is censored before it is written."""

    def __init__(self, inner: Any, secrets: list[str]) -> None:
        self._inner = inner
        self._secrets = secrets

    def set(self, key: str, value: Any) -> None:
        self._inner.set(key, redact_data(value, self._secrets))


def _censor_events(secrets: list[str]) -> None:
    from ansible.executor.task_queue_manager import TaskQueueManager

    original: Callable[[Any], None] = TaskQueueManager.load_callbacks

    @functools.wraps(original)
    def load_callbacks(self: Any) -> None:
        original(self)
        # The stdout callback (ansible-runner's awx_display) is loaded now; its module holds
        # the one event context whose cache writes the partial event files.
        for plugin in getattr(self, "_callback_plugins", []):
            context = getattr(sys.modules.get(type(plugin).__module__), "event_context", None)
            cache = getattr(context, "cache", None)
            if cache is not None and not isinstance(cache, _CensoringCache):
                context.cache = _CensoringCache(cache, secrets)  # type: ignore[union-attr]

    TaskQueueManager.load_callbacks = load_callbacks


def main() -> None:
    """Receive the secrets, censor the output, run ansible-playbook with our arguments."""
    names = [n for n in os.environ.pop(NAMES_ENV, "").split(",") if n]
    secrets = _receive(names) if names else []
    os.environ.pop(NONCE_ENV, None)
    umask = os.environ.pop(UMASK_ENV, "")
    if umask:
        # The runner writes its artifacts under umask 077; what the playbook creates keeps
        # the permissions it would have had outside the runner.
        os.umask(int(umask, 8))
    if secrets:
        _censor_display(secrets)
        _censor_events(secrets)
    from ansible.cli.playbook import main as playbook_main

    sys.argv = ["ansible-playbook", *sys.argv[1:]]
    playbook_main()


if __name__ == "__main__":
    main()
