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

from sop_runner.adapters.signing import sshsig, sshsig_native
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

    def __init__(self, users: dict[str, User], runner_key: Path, signers_file: Path) -> None:
        self.users = users
        self.runner_key = runner_key
        self.runner_public = sshsig_native.generate_runner_key(runner_key)
        self._signers_file = signers_file

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

        def sign(text: bytes) -> str:
            if _native_key(path):
                return sshsig_native.sign(text, path, NAMESPACE)
            return sshsig.sign(text, path)

        return Signer(user.username, sign)

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
        if public.split(maxsplit=1)[0] == "ssh-ed25519":
            return sshsig_native.verify(text, armored, public, NAMESPACE)
        return sshsig.verify(text, armored, principal, self.signers_file())

    def signers_file(self) -> Path:
        """The allowed-signers file for ``ssh-keygen`` (only non-ed25519 keys need it)."""
        content = sshsig.allowed_signers(self.users.values())
        path = self._signers_file
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        return path


def _native_key(path: Path) -> bool:
    """Whether ``path`` is an unencrypted ed25519 private key (signed natively, no subprocess)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    try:
        key = load_ssh_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(key, Ed25519PrivateKey)
