"""Exit codes of the `sop` command: part of its contract, tested, listed in docs/cli.md."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What `sop` returns to the shell."""

    OK = 0
    FAILURE = 1  # the operation ran and failed (a playbook failed, verification failed)
    USAGE = 2  # argparse's own code for bad arguments
    INVALID_INPUT = 3  # bad request data or definition: names the field and the fix
    FORBIDDEN = 4  # the actor may not do this (role, own run, second gate, bad signature)
    CONFLICT = 5  # state does not allow it (wrong step, stale plan, target locked)
    NOT_FOUND = 6  # no such run, SOP, user or document
    ENVIRONMENT = 7  # the lab or a service is missing or unreachable
    AUDIT_BROKEN = 8  # the audit chain does not verify
    INTERRUPTED = 130
