"""Typed errors shared by the core and the adapters.

Every error names what was wrong and, in ``hint``, how to fix it; the CLI maps each class to
an exit code so scripts can tell a refusal from a failure.
"""

from __future__ import annotations

from sop_runner.cli.exitcodes import ExitCode


class SopError(Exception):
    """Base class: a message for people, a hint, and the CLI exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class InvalidInputError(SopError):
    """Request data or a definition is wrong; nothing was changed."""

    exit_code = ExitCode.INVALID_INPUT


class ForbiddenError(SopError):
    """The actor may not do this."""

    exit_code = ExitCode.FORBIDDEN


class ConflictError(SopError):
    """The run's state does not allow this now."""

    exit_code = ExitCode.CONFLICT


class NotFoundError(SopError):
    """A named object does not exist."""

    exit_code = ExitCode.NOT_FOUND


class EnvironmentProblemError(SopError):
    """A service or tool the command needs is missing or unreachable."""

    exit_code = ExitCode.ENVIRONMENT


class AuditBrokenError(SopError):
    """The audit chain does not verify."""

    exit_code = ExitCode.AUDIT_BROKEN
