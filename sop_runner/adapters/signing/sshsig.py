"""Sign and verify with ``ssh-keygen -Y``.

An allowed-signers file maps each username (principal) to their public key, so a signature only
verifies for the user it claims to come from, in the ``sop-runner`` namespace.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sop_runner.core.people import User
from sop_runner.core.signing import NAMESPACE
from sop_runner.errors import EnvironmentProblemError, ForbiddenError


def sign(payload: bytes, private_key: Path, *, namespace: str = NAMESPACE) -> str:
    """Sign ``payload`` with an OpenSSH private key; return the armored signature."""
    if not private_key.is_file():
        raise ForbiddenError(f"private key {private_key} not found", hint="pass --key PATH to your SSH private key")
    with tempfile.TemporaryDirectory(prefix="sop-sign-") as tmp:
        msg = Path(tmp) / "payload"
        msg.write_bytes(payload)
        proc = subprocess.run(
            ["ssh-keygen", "-q", "-Y", "sign", "-f", str(private_key), "-n", namespace, str(msg)],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise ForbiddenError(
                f"ssh-keygen could not sign: {proc.stderr.strip()}",
                hint="use an unencrypted key or an ssh-agent holding it",
            )
        return (Path(tmp) / "payload.sig").read_text(encoding="ascii")


def allowed_signers(users: Iterable[User]) -> str:
    """The allowed-signers file content for these users."""
    lines = []
    for u in users:
        if u.public_key:
            lines.append(f'{u.username} namespaces="{NAMESPACE}" {u.public_key.strip()}')
    return "\n".join(lines) + "\n"


def verify(
    payload: bytes, signature: str, principal: str, signers_file: Path, *, namespace: str = NAMESPACE
) -> str | None:
    """None if ``signature`` is ``principal``'s over ``payload``; else the reason it is not."""
    if "BEGIN SSH SIGNATURE" not in signature:
        return "not an SSH signature"
    if not signature.isascii():
        return "garbled SSH signature (not ASCII)"
    with tempfile.TemporaryDirectory(prefix="sop-verify-") as tmp:
        sig = Path(tmp) / "sig"
        sig.write_text(signature, encoding="ascii")
        try:
            proc = subprocess.run(
                [
                    "ssh-keygen",
                    "-Y",
                    "verify",
                    "-f",
                    str(signers_file),
                    "-I",
                    principal,
                    "-n",
                    namespace,
                    "-s",
                    str(sig),
                ],
                input=payload,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise EnvironmentProblemError("ssh-keygen is not installed", hint="apt-get install openssh-client") from exc
    if proc.returncode == 0:
        return None
    return (proc.stderr or proc.stdout).decode("utf-8", "replace").strip() or "verification failed"


def generate_key(path: Path, comment: str) -> str:
    """Create an ed25519 key pair without passphrase (lab personas); return the public key line."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            capture_output=True,
        )
    return Path(f"{path}.pub").read_text(encoding="ascii").strip()
