"""Helpers shared by the sub-commands: config/service construction, output, identity."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from sop_runner.config import load_config
from sop_runner.errors import InvalidInputError
from sop_runner.service.runs import RunService


def add_identity(p: argparse.ArgumentParser) -> None:
    """--as USER and --config on a sub-command."""
    p.add_argument(
        "--as", dest="user", default=os.environ.get("SOP_USER", ""), help="who is acting (default: $SOP_USER)"
    )
    p.add_argument("--config", default=None, help="runner configuration file (default: $SOP_CONFIG or ./sop.yml)")


def service(args: argparse.Namespace, *, quiet: bool = False) -> RunService:
    """The run service for this invocation, printing progress to stderr unless --json/quiet."""
    cfg = load_config(getattr(args, "config", None))
    progress = None if (quiet or getattr(args, "json", False)) else (lambda m: print(m, file=sys.stderr, flush=True))
    return RunService(cfg, progress=progress)


def who(args: argparse.Namespace) -> str:
    """The acting user, or a clear error."""
    if not getattr(args, "user", ""):
        raise InvalidInputError("who is acting? no user given", hint="pass --as USERNAME or set SOP_USER")
    return str(args.user)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print JSON for scripts (--json) or text for people."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(text)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(out)


def parse_params(items: list[str]) -> dict[str, Any]:
    """--param k=v (repeatable); a value may be a JSON list."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InvalidInputError(f"--param {item!r} must be NAME=VALUE")
        key, value = item.split("=", 1)
        if value.startswith("["):
            try:
                out[key.strip()] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        out[key.strip()] = value
    return out
