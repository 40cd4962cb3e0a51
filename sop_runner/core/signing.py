"""What an approver signs.

The payload names the run, the SOP, the step, the action and the plan hash, so a signature
cannot be replayed into another run, another step or onto another plan. It is plain text so an
official can read exactly what they sign (``ssh-keygen -Y sign`` signs the bytes as given).
"""

from __future__ import annotations

from dataclasses import dataclass

from sop_runner.core.canonical import sha256_hex

NAMESPACE = "sop-runner"


@dataclass(frozen=True, slots=True)
class SignedAction:
    """The fields a signature covers."""

    run_id: str
    sop_id: str
    step: int
    action: str  # approve | reject | ya | tidak
    plan_hash: str  # "-" when the gate is not bound to a plan
    user: str
    comment: str

    def payload(self) -> bytes:
        """The exact bytes signed and verified."""
        lines = [
            "sop-runner signed action v1",
            f"run: {self.run_id}",
            f"sop: {self.sop_id}",
            f"step: {self.step}",
            f"action: {self.action}",
            f"plan: {self.plan_hash or '-'}",
            f"user: {self.user}",
            f"comment-sha256: {sha256_hex(self.comment)}",
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")
