"""Turn Ansible's per-task ``diff`` results into one readable unified diff."""

from __future__ import annotations

import difflib
import re
from typing import Any

# copy/template diffs name the controller's or target's temporary source file, whose name
# differs on every run; left in, two plans of the same change would never hash the same.
_TEMP_PATH = re.compile(r"ansible-(?:tmp|local)-|/\.ansible/tmp/|^/tmp/tmp[\w-]+")


def _header(diff: dict[str, Any], key: str, fallback: str) -> str:
    value = str(diff.get(key, fallback))
    return fallback if _TEMP_PATH.search(value) else value


def _one(diff: dict[str, Any], label: str) -> str:
    if diff.get("prepared"):
        return f"--- {label}\n{str(diff['prepared']).rstrip()}\n"
    before = diff.get("before", "")
    after = diff.get("after", "")
    if not isinstance(before, str):
        before = _yamlish(before)
    if not isinstance(after, str):
        after = _yamlish(after)
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=_header(diff, "before_header", f"{label} (before)"),
        tofile=_header(diff, "after_header", f"{label} (after)"),
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _yamlish(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def render_task_diff(diff: Any, host: str, task: str) -> str:
    """Render one task's diff (a dict or a list of dicts) for ``host``."""
    label = f"{host} | {task}"
    if isinstance(diff, dict):
        return _one(diff, label)
    if isinstance(diff, list):
        return "".join(_one(d, label) for d in diff if isinstance(d, dict))
    return ""
