"""Time against the SOP's standard (Mutu Baku: Waktu), per run and across runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sop_runner.core.catalogue.model import SopDefinition
from sop_runner.core.run.state import RunState
from sop_runner.core.timestd import TimeKind, format_minutes


def _fmt_duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} detik"
    if minutes < 120:
        return f"{minutes:.1f} menit"
    if minutes < 2880:
        return f"{minutes / 60:.1f} jam"
    return f"{minutes / 1440:.1f} hari"


def visit_rows(sop: SopDefinition, state: RunState, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per step visit: who, when, how long, the standard, and whether it overran."""
    now = now or datetime.now(UTC)
    rows = []
    for v in state.visits:
        step = sop.step(v.step)
        std = step.time_standard
        end = v.ended or now
        minutes = (end - v.started).total_seconds() / 60
        if std.kind is TimeKind.BOUNDED and std.minutes is not None:
            over = minutes > std.minutes
            standard = format_minutes(std.minutes) if std.raw == "" else std.raw
            sla = ("LEWAT" if over else "sesuai") + ("" if v.ended else " (berjalan)")
        else:
            over = False
            standard = "Unlimited" if std.kind is TimeKind.UNLIMITED else "-"
            sla = "tanpa batas" if std.kind is TimeKind.UNLIMITED else "tidak ditentukan"
        rows.append(
            {
                "number": v.step,
                "text": step.text,
                "by": v.by,
                "outcome": v.outcome,
                "started": v.started.strftime("%Y-%m-%d %H:%M:%S"),
                "ended": v.ended.strftime("%Y-%m-%d %H:%M:%S") if v.ended else "-",
                "minutes": round(minutes, 3),
                "duration": _fmt_duration(minutes),
                "standard": standard,
                "standard_minutes": std.minutes,
                "over": over,
                "sla": sla,
                "open": v.ended is None,
            }
        )
    return rows


def across_runs(items: list[tuple[SopDefinition, RunState]]) -> list[dict[str, Any]]:
    """Per SOP step: visits, overruns, mean and max minutes."""
    agg: dict[tuple[str, int], dict[str, Any]] = {}
    for sop, state in items:
        for row in visit_rows(sop, state):
            key = (sop.id, row["number"])
            a = agg.setdefault(
                key,
                {
                    "sop": sop.id,
                    "step": row["number"],
                    "text": row["text"][:60],
                    "standard": row["standard"],
                    "visits": 0,
                    "over": 0,
                    "total": 0.0,
                    "max": 0.0,
                },
            )
            a["visits"] += 1
            a["over"] += int(row["over"])
            a["total"] += row["minutes"]
            a["max"] = max(a["max"], row["minutes"])
    out = []
    for a in agg.values():
        a["mean"] = round(a.pop("total") / a["visits"], 3)
        a["max"] = round(a["max"], 3)
        out.append(a)
    return sorted(out, key=lambda r: (r["sop"], r["step"]))
