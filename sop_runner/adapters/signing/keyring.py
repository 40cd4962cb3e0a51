"""Who may sign, and how a signature is checked: people's SSH keys and the runner's own key.

People sign with their own OpenSSH key (a key file, or an ssh-agent holding it); the runner
signs what it records itself with an ed25519 key that lives outside the database. Checking
is native for ed25519 (microseconds, so every event of a run can be checked before every
command) and falls back to ``ssh-keygen -Y verify`` for other key types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sop_runner.adapters.signing import sshsig_native
from sop_runner.core.people import User
from sop_runner.core.signing import NAMESPACE
from sop_runner.errors import ForbiddenError

RUNNER = "sop-runner"
"""The principal of events the runner records itself (step started, run closed, host results)."""


@dataclass(frozen=True, slots=True)
class Signer:
    """Makes the signature of one principal over a statement."""

    principal: str
    sign: Callable[[bytes], str]


class Keyring:
    """The configured people's public keys plus the runner's key pair."""

    def __init__(self, users: dict[str, User], runner_key: Path) -> None:
        self.users = users
        self.runner_key = runner_key
        self.runner_public = sshsig_native.generate_runner_key(runner_key)

    # -- signing ----------------------------------------------------------------------------
    def runner(self) -> Signer:
        """The runner's own signer."""
        return Signer(RUNNER, lambda text: sshsig_native.sign(text, self.runner_key, NAMESPACE))

    def person(self, user: User, key_file: str = "", armored: str = "") -> Signer:
        """A person's signer: a signature made elsewhere, a key given now, or the configured key.

        Refuses when none is at hand: without the person's key nobody can act in their name.
        """
        if armored:
            return Signer(user.username, lambda _text: armored)
        key = key_file or user.private_key_file
        if not key:
            raise ForbiddenError(
                f"{user.username} must sign this action with their own key",
                hint="pass --key PATH (your SSH private key, or its .pub with the key in ssh-agent)",
            )
        path = Path(key)
        # Native for an unencrypted ed25519 key; ssh-keygen (and so ssh-agent) for the rest.
        return Signer(user.username, lambda text: sshsig_native.sign(text, path, NAMESPACE))

    # -- checking ---------------------------------------------------------------------------
    def public_key(self, principal: str) -> str:
        """The public key line that verifies ``principal``, or '' when none is configured."""
        if principal == RUNNER:
            return self.runner_public
        user = self.users.get(principal)
        return user.public_key if user is not None else ""

    def verify(self, principal: str, text: bytes, armored: str) -> str | None:
        """None when ``armored`` is ``principal``'s signature over ``text``; else why not."""
        public = self.public_key(principal)
        if not public:
            return f"no public key is configured for {principal!r}"
        # Native for ed25519, ECDSA and RSA; ssh-keygen for other key types.
        return sshsig_native.verify(text, armored, public, NAMESPACE)
