"""The plan hash: one digest over everything that determines a change.

It covers the playbook and the roles it reaches (file contents), the plugins, the inventory,
everything else ansible-playbook reads (ansible.cfg and what it names, group_vars/host_vars,
collections, the environment the runner passes),
the variables, the data the roles report they read from NetBox (``set_stats``), the per-task
change list and the diff itself. If any of these differ between the plan an approver saw and
the plan made just before apply, the hashes differ and apply is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sop_runner.core.canonical import digest


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What goes into a plan hash."""

    sop_id: str
    step: int
    code_digest: str  # playbooks + roles reached + plugins
    inventory_digest: str
    extravars: dict[str, Any]
    stats: dict[str, Any]
    tasks: list[dict[str, Any]]  # host, task, changed
    diff: str
    config_digest: str = ""  # ansible.cfg + named files + vars dirs + collections + env

    def hash(self) -> str:
        """The plan hash."""
        return digest(
            {
                "v": 2,
                "sop": self.sop_id,
                "step": self.step,
                "code": self.code_digest,
                "inventory": self.inventory_digest,
                "config": self.config_digest,
                "vars": self.extravars,
                "stats": self.stats,
                "tasks": self.tasks,
                "diff": self.diff,
            }
        )
