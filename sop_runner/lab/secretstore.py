"""The lab NetBox's secrets, shared by every clone on the machine.

They live beside the cached database dumps because the dumps depend on them: the API
token in the seeded template is stored as an HMAC with the pepper, so a clone restoring that
dump must use the same pepper to have the same token accepted. Lab-only values.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import asdict, dataclass

from sop_runner.lab.paths import LabPaths
from sop_runner.secretfiles import private_dir

_ALPHANUMERIC = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


@dataclass(frozen=True)
class LabSecrets:
    """SECRET_KEY, the v2-token pepper and the admin's token parts."""

    secret_key: str
    pepper: str
    token_key: str
    token_secret: str
    admin_password: str

    @property
    def token(self) -> str:
        """The Bearer value NetBox v2 expects: ``nbt_<key>.<secret>``."""
        return f"nbt_{self.token_key}.{self.token_secret}"


def load_or_create(paths: LabPaths) -> LabSecrets:
    """Read the machine's lab secrets, creating them (mode 0600) on first use."""
    if paths.secrets_file.exists():
        return LabSecrets(**json.loads(paths.secrets_file.read_text()))
    created = LabSecrets(
        secret_key=_random(64),
        pepper=_random(64),
        token_key=_random(12),
        token_secret=_random(40),
        admin_password=_random(20),
    )
    private_dir(paths.cache)
    fd = os.open(paths.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(created), handle, indent=2)
    return created
