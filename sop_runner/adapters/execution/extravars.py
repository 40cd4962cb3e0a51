"""Extra vars that reach Ansible as data, never as templates.

ansible-core (2.19+) templates a variable's value again when that value is trusted, and it
trusts every string of an ``-e @file`` and of an inline ``-e '{…}'``: a request parameter
holding ``{{ lookup('pipe', …) }}`` ran on the controller as soon as a role used it. The YAML
tag ``!unsafe`` on a node makes everything beneath it untrusted (ansible's constructor counts
an unsafe depth), so the whole document is one ``!unsafe`` mapping: every string, however
deep, is inert, while ints stay ints and lists stay lists (tagging each scalar instead would
re-resolve ``'007'`` as an int).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sop_runner.errors import InvalidInputError


def _plain(value: Any, where: str) -> Any:
    """JSON-like data only: anything else has no meaning in the extra vars and is refused."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(
                f"extra var {where} is {value}", hint="give a finite number; NaN and infinity are not data"
            )
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise InvalidInputError(
        f"extra var {where} is a {type(value).__name__}", hint="pass text, a number, a bool, a list or a mapping"
    )


def inert_yaml(values: Mapping[str, Any]) -> str:
    """The extra vars as one YAML document whose every string Ansible treats as data."""
    data = {str(k): _plain(v, str(k)) for k, v in values.items()}
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=True, default_flow_style=False, width=1 << 20)
    return "--- !unsafe\n" + body


def write_extravars(path: Path, values: Mapping[str, Any]) -> Path:
    """Write the inert extra vars file (0600: it may hold what a requester typed)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(inert_yaml(values))
    path.chmod(0o600)
    return path
