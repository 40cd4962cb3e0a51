"""Entry point of the `sop` command.

Each sub-command lives in its own module under ``sop_runner.cli`` and exposes
``register(subparsers)``; this file only wires them together and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sop_runner.cli.exitcodes import ExitCode
from sop_runner.errors import (
    AuditBrokenError,
    ConflictError,
    EnvironmentProblemError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    SopError,
)

# Each error class of the domain has one exit code: scripts tell a refusal from a failure.
_EXIT = {
    InvalidInputError: ExitCode.INVALID_INPUT,
    ForbiddenError: ExitCode.FORBIDDEN,
    ConflictError: ExitCode.CONFLICT,
    NotFoundError: ExitCode.NOT_FOUND,
    EnvironmentProblemError: ExitCode.ENVIRONMENT,
    AuditBrokenError: ExitCode.AUDIT_BROKEN,
}


def exit_code(exc: SopError) -> ExitCode:
    """The exit code of a domain error (its nearest class in ``_EXIT``, else FAILURE)."""
    for cls in type(exc).__mro__:
        if cls in _EXIT:
            return _EXIT[cls]
    return ExitCode.FAILURE

# Sub-command modules, in the order `sop --help` lists them.
_COMMANDS = ("lab", "catalogue", "run", "audit", "report", "personas")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="sop",
        description="Run the data centre's SOPs: request, plan, approve, apply, verify, report.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        module = importlib.import_module(f"sop_runner.cli.cmd_{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except SopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return int(exit_code(exc))
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    return code


def entry() -> None:
    """Console-script wrapper."""
    sys.exit(main())
