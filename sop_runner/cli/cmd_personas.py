"""`sop personas init DIR`: lab officials and requesters with SSH keys and a runner config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sop_runner.cli.exitcodes import ExitCode
from sop_runner.service.personas import PERSONAS, init_personas


def cmd_init(args: argparse.Namespace) -> int:
    path = init_personas(Path(args.dir), database=args.database)
    print(f"wrote {path} with {len(PERSONAS)} personas; use: export SOP_CONFIG={path}")
    return int(ExitCode.OK)


def register(sub: Any) -> None:
    """Register `sop personas`."""
    p = sub.add_parser("personas", help="lab personas (officials and requesters with SSH keys)")
    psub = p.add_subparsers(dest="personas_cmd", required=True)
    i = psub.add_parser("init", help="create keys and a runner configuration in DIR")
    i.add_argument("dir", nargs="?", default=".lab")
    i.add_argument("--database", default=None, help="database URL (default: SQLite under DIR/runner)")
    i.set_defaults(func=cmd_init)
