"""Time standards ("Mutu Baku: Waktu") as written in the SOPs, parsed to minutes.

The seeds write times as "10 menit", "1 x 24 jam", "3 hari", "3 bulan", "Unlimited" or leave
them blank. Calendar units are used (a day is 24 hours, a month 30 days) because the SOPs
never say "hari kerja"; a definition that means working days must say so in its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_MINUTES_PER_UNIT = {
    "detik": 1 / 60,
    "menit": 1,
    "jam": 60,
    "hari": 24 * 60,
    "minggu": 7 * 24 * 60,
    "pekan": 7 * 24 * 60,
    "bulan": 30 * 24 * 60,
    "tahun": 365 * 24 * 60,
}
_UNLIMITED = {"unlimited", "tidak terbatas", "tanpa batas"}
_UNSPECIFIED = {"", "-", "none", "tidak ditentukan"}
# "1 x 24 jam", "2x24 jam", "30 menit", "3 hari", "1,5 jam"
_PATTERN = re.compile(
    r"^(?:(?P<times>\d+)\s*[x×]\s*)?(?P<n>\d+(?:[.,]\d+)?)\s*(?P<unit>[a-z]+)$",  # noqa: RUF001
)


class TimeKind(StrEnum):
    """Whether a step has a bounded standard."""

    BOUNDED = "bounded"
    UNLIMITED = "unlimited"  # the SOP says "Unlimited": no overrun is possible
    UNSPECIFIED = "unspecified"  # the SOP leaves the cell blank


@dataclass(frozen=True, slots=True)
class TimeStandard:
    """A parsed time standard; ``minutes`` is None unless bounded."""

    raw: str
    kind: TimeKind
    minutes: float | None = None

    def __str__(self) -> str:
        return self.raw or "-"


class TimeParseError(ValueError):
    """The text is not a time standard this parser knows."""


def parse_time(raw: str | None) -> TimeStandard:
    """Parse an SOP time cell.

    Raises:
        TimeParseError: with the text and the accepted forms.
    """
    text = (raw or "").strip()
    norm = " ".join(text.lower().split())
    if norm in _UNSPECIFIED:
        return TimeStandard(text, TimeKind.UNSPECIFIED)
    if norm in _UNLIMITED:
        return TimeStandard(text, TimeKind.UNLIMITED)
    match = _PATTERN.match(norm)
    if not match or match.group("unit") not in _MINUTES_PER_UNIT:
        msg = (
            f"cannot read time standard {text!r}: write it as '<n> menit|jam|hari|minggu|bulan', "
            "'<n> x 24 jam', 'Unlimited', or leave it empty"
        )
        raise TimeParseError(msg)
    amount = float(match.group("n").replace(",", "."))
    times = int(match.group("times") or 1)
    return TimeStandard(text, TimeKind.BOUNDED, times * amount * _MINUTES_PER_UNIT[match.group("unit")])


def format_minutes(minutes: float) -> str:
    """Render minutes the way the SOPs do, choosing the largest exact unit."""
    for unit, size in (("hari", 1440), ("jam", 60)):
        if minutes >= size and minutes % size == 0:
            return f"{int(minutes // size)} {unit}"
    return f"{minutes:g} menit"
