"""`sop report sla`: time against the SOP standard, per run or across runs."""

from __future__ import annotations

import argparse
from typing import Any

from sop_runner.cli.common import add_identity, emit, service, table
from sop_runner.cli.exitcodes import ExitCode
from sop_runner.service.sla import across_runs, visit_rows


def cmd_sla(args: argparse.Namespace) -> int:
    svc = service(args, quiet=True)
    if args.run_id:
        state = svc.state(args.run_id)
        sop = svc.sop(state.sop_id)
        rows = visit_rows(sop, state)
        over = [r for r in rows if r["over"]]
        text = (
            table(
                [[str(r["number"]), r["by"] or "-", r["duration"], r["standard"], r["sla"]] for r in rows],
                ["step", "by", "took", "standard", "status"],
            )
            + f"\n{len(over)} step(s) over the standard"
        )
        emit(args, {"run_id": args.run_id, "steps": rows, "overruns": len(over)}, text)
        return int(ExitCode.OK)
    items = []
    for r in svc.store.runs():
        if args.sop and r["sop_id"] != args.sop:
            continue
        state = svc.state(r["run_id"])
        items.append((svc.sop(state.sop_id), state))
    agg = across_runs(items)
    text = table(
        [
            [
                a["sop"],
                str(a["step"]),
                a["standard"],
                str(a["visits"]),
                str(a["over"]),
                f"{a['mean']:.2f}",
                f"{a['max']:.2f}",
            ]
            for a in agg
        ],
        ["sop", "step", "standard", "visits", "over", "mean min", "max min"],
    )
    emit(args, agg, text if agg else "no runs")
    return int(ExitCode.OK)


def register(sub: Any) -> None:
    """Register `sop report`."""
    p = sub.add_parser("report", help="reports")
    rsub = p.add_subparsers(dest="report_cmd", required=True)
    s = rsub.add_parser("sla", help="step times against the SOP's Mutu Baku")
    add_identity(s)
    s.add_argument("run_id", nargs="?", default="")
    s.add_argument("--sop", default="")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    s.set_defaults(func=cmd_sla)
