"""Typed errors shared by the core and the adapters.

Every error names what was wrong and, in ``hint``, how to fix it; the CLI maps each class to
an exit code so scripts can tell a refusal from a failure.
"""

from __future__ import annotations


class SopError(Exception):
    """Base class: a message for people and a hint (the CLI maps each class to an exit code)."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class InvalidInputError(SopError):
    """Request data or a definition is wrong; nothing was changed."""



class ForbiddenError(SopError):
    """The actor may not do this."""



class ConflictError(SopError):
    """The run's state does not allow this now."""



class NotFoundError(SopError):
    """A named object does not exist."""



class EnvironmentProblemError(SopError):
    """A service or tool the command needs is missing or unreachable."""



class AuditBrokenError(SopError):
    """The audit chain does not verify."""

