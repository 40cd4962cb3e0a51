"""Counts over the catalogue: how much of each SOP is technical work, and how much of that runs.

Coverage is automated technical steps over technical steps: a manual signature is never
"uncovered", while a technical step without a playbook is work the runner still leaves to people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sop_runner.core.catalogue.model import Group, SopDefinition
from sop_runner.core.timestd import TimeKind


@dataclass(frozen=True, slots=True)
class SopStats:
    """Step counts of one SOP."""

    steps: int
    technical: int
    automated: int

    @classmethod
    def of(cls, sop: SopDefinition) -> SopStats:
        """Count the steps of ``sop``."""
        return cls(
            steps=len(sop.steps),
            technical=sum(1 for s in sop.steps if s.technical or s.automated),
            automated=sum(1 for s in sop.steps if s.automated),
        )


@dataclass(frozen=True, slots=True)
class GroupCoverage:
    """Coverage of one group (or of the whole catalogue, with ``group == "total"``)."""

    group: str
    procedures: int
    technical: int
    automated: int

    @property
    def percent(self) -> float | None:
        """Automated share of the technical steps, or None when there is no technical step."""
        if self.technical == 0:
            return None
        return round(100 * self.automated / self.technical, 1)

    def as_dict(self) -> dict[str, str | int | float | None]:
        """JSON-ready form."""
        return {
            "group": self.group,
            "procedures": self.procedures,
            "technical_steps": self.technical,
            "automated_steps": self.automated,
            "percent": self.percent,
        }


def coverage(sops: Iterable[SopDefinition]) -> tuple[list[GroupCoverage], GroupCoverage]:
    """Coverage per group (in the order of :class:`Group`, empty groups left out) and in total."""
    per_group: dict[Group, list[SopStats]] = {}
    for sop in sops:
        per_group.setdefault(sop.group, []).append(SopStats.of(sop))
    rows = [
        GroupCoverage(
            group=group.value,
            procedures=len(stats),
            technical=sum(s.technical for s in stats),
            automated=sum(s.automated for s in stats),
        )
        for group in Group
        if (stats := per_group.get(group))
    ]
    total = GroupCoverage(
        group="total",
        procedures=sum(r.procedures for r in rows),
        technical=sum(r.technical for r in rows),
        automated=sum(r.automated for r in rows),
    )
    return rows, total


def format_percent(value: float | None) -> str:
    """``"37.5%"``, or ``"-"`` when there is nothing to automate."""
    return "-" if value is None else f"{value:g}%"


@dataclass(frozen=True, slots=True)
class TotalTime:
    """The sum of an SOP's bounded time standards, and how many steps have none."""

    minutes: float
    unlimited: int
    unspecified: int


def total_time(sop: SopDefinition) -> TotalTime:
    """Add up the Waktu column; "Unlimited" and blank cells are counted, not summed."""
    minutes = 0.0
    unlimited = unspecified = 0
    for step in sop.steps:
        standard = step.time_standard
        if standard.kind is TimeKind.BOUNDED and standard.minutes is not None:
            minutes += standard.minutes
        elif standard.kind is TimeKind.UNLIMITED:
            unlimited += 1
        else:
            unspecified += 1
    return TotalTime(minutes, unlimited, unspecified)
