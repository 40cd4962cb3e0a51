"""Helpers shared by the sub-commands: config/service construction, output, identity."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

from sop_runner.config import load_config
from sop_runner.core.params import preview
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
    """--param k=v (repeatable); a value may be a JSON list. Every problem is reported at once."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for item in items:
        if "=" not in item:
            problems.append(f"--param {preview(item)} must be NAME=VALUE")
            continue
        key, value = item.split("=", 1)
        key = key.strip()
        if not _PARAM_NAME.fullmatch(key):
            problems.append(f"--param {preview(key)}: not a parameter name (lower-case letters, digits and "
                            "underscores, starting with a letter; `sop catalogue show SOP` lists them)")
            continue
        if key in out:
            problems.append(f"--param {key}: given twice; give each parameter once")
            continue
        out[key] = value
        if value.startswith("["):
            try:
                out[key] = json.loads(value, parse_constant=_no_constant)
            except json.JSONDecodeError:
                pass  # not JSON: plain text that happens to start with "[", e.g. "[draft] ..."
            except RecursionError:
                problems.append(f"--param {key}: nested too deeply; give a flat list like [\"a\", \"b\"]")
            except ValueError as exc:
                problems.append(f"--param {key}: {exc}")
    if problems:
        raise InvalidInputError("invalid --param:\n  " + "\n  ".join(problems),
                                hint="give each parameter once as --param name=value; nothing was created")
    return out


_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _no_constant(name: str) -> Any:
    """JSON's NaN and Infinity are no values a request can use."""
    msg = f"{name} is not a finite number; write the value as text or a finite number"
    raise ValueError(msg)
