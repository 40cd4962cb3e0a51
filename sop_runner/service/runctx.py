"""Small pure helpers of an apply: the signed answers a role may read, progress lines."""

from __future__ import annotations

from typing import Any

from sop_runner.core.run.state import RunState

_STATUS = {"runner_on_failed": "FAILED", "runner_on_unreachable": "UNREACHABLE", "runner_on_skipped": "skipped"}


def answers(state: RunState) -> dict[str, str]:
    """The signed answers of the run so far, ``{"<step>": "ya"|"tidak"}`` (latest per step).

    Given to the apply only, as ``sop_answers``: a decision taken after the plan was approved
    (SOP 32: Kabid's backup decision after the go-ahead) is a fact of the run, signed by its
    own gate, that the role checks at apply; it is not part of the plan hash.
    """
    out: dict[str, str] = {}
    for gate in state.gates:
        out[str(gate.step)] = "ya" if gate.action in ("ya", "approve") else "tidak"
    return out


def progress_line(ev: dict[str, Any]) -> str | None:
    """One line per task result of an ansible-runner event, or None for other events."""
    name = ev.get("event", "")
    if name not in ("runner_on_ok", *_STATUS):
        return None
    data = ev.get("event_data") or {}
    res = data.get("res") or {}
    status = _STATUS.get(name) or ("changed" if isinstance(res, dict) and res.get("changed") else "ok")
    return f"  [{data.get('host', '')}] {data.get('task', '')}: {status}"
