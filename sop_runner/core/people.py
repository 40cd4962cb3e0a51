"""People who use the runner and the roles they hold (from the runner's configuration)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class User:
    """A person: civil-servant identity, roles, and the public key that verifies their signatures."""

    username: str
    name: str
    nip: str = ""
    jabatan: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    public_key: str = ""  # OpenSSH public key line
    private_key_file: str = ""  # only for lab personas / the operator's own key
    tenant: str = ""  # for requesters: the SKPD they belong to
    pangkat: str = ""  # rank and grade for a signature block, e.g. "Pembina Tk. I (IV/b)"

    def has(self, role: str) -> bool:
        """Whether the user holds ``role``."""
        return role in self.roles
