"""Dates and times on documents: in the site's zone, in Bahasa Indonesia.

The store records UTC; a Kepala Dinas in Wonosobo reads WIB, one in Tanah Bumbu WITA. Every
time a template prints passes through here, so none reaches paper as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

_BULAN = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]  # fmt: skip
_HARI = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
# The three legal zones of Indonesia by their official names (UU 2/2013 and Keppres 41/1987).
_ZONE_NAMES = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


def zone_name(zone: str) -> str:
    """WIB, WITA or WIT for an Indonesian zone; otherwise the zone's own abbreviation."""
    if zone in _ZONE_NAMES:
        return _ZONE_NAMES[zone]
    return datetime.now(ZoneInfo(zone)).tzname() or zone


def as_datetime(value: Any) -> datetime | None:
    """A datetime from what the run records hold; naive values are UTC (the store's clock).

    Accepts a datetime, an ISO-8601 string, or "YYYY-MM-DD HH:MM[:SS][ UTC]"; None for anything
    else (a template prints such a value as written).
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().removesuffix(" UTC").removesuffix("Z")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local(value: Any, zone: str) -> datetime | None:
    """``value`` in ``zone`` (see :func:`as_datetime`)."""
    dt = as_datetime(value)
    return dt.astimezone(ZoneInfo(zone)) if dt else None


def tanggal(dt: datetime) -> str:
    """'4 Desember 2026'."""
    return f"{dt.day} {_BULAN[dt.month - 1]} {dt.year}"


def hari(dt: datetime) -> str:
    """'Jumat'."""
    return _HARI[dt.weekday()]


def hari_tanggal(dt: datetime) -> str:
    """'Jumat, 4 Desember 2026'."""
    return f"{hari(dt)}, {tanggal(dt)}"


def jam(dt: datetime, zone: str) -> str:
    """'15:47 WIB' (``dt`` already in ``zone``)."""
    return f"{dt:%H:%M} {zone_name(zone)}"
