"""`sop lab up|down|status|reset`: the NetBox lab for development and tests."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sop_runner import lab
from sop_runner.cli.exitcodes import ExitCode

# Budgets from the lab's contract (docs/lab.md); exceeding one is reported, not fatal.
_UP_WHEN_BUILT_BUDGET_S = 60.0
_RESET_BUDGET_S = 5.0


def register(sub: Any) -> None:
    """Add `lab` and its actions to the `sop` parser."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "lab",
        help="run the NetBox lab (PostgreSQL, Redis, NetBox 4.7.3) for this clone",
        description="Start, stop, inspect or reset the lab NetBox with its seed data.",
    )
    actions = parser.add_subparsers(dest="lab_action", metavar="ACTION", required=True)
    for name, handler, text in (
        ("up", _up, "start whatever is not running (first time: install, migrate, seed)"),
        ("down", _down, "stop the processes the lab started"),
        ("status", _status, "show what runs and where"),
        ("reset", _reset, "restore the seed state (seconds)"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.set_defaults(func=handler)
        if name == "down":
            action.add_argument("--force", action="store_true", help="stop even while a test session uses the lab")
    text = "lab servers for SOPs 24, 25, 59: systemd containers registered in NetBox (sop_runner.lab.servers)"
    servers = actions.add_parser("servers", help=text, description=text)
    servers.add_argument("servers_action", choices=["up", "down", "status"], metavar="up|down|status")
    servers.add_argument("-n", "--count", type=int, default=2, help="hosts to start (default 2, at most 4)")
    servers.set_defaults(func=_servers)


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(lines))


def _component_lines(status: lab.LabStatus) -> list[str]:
    lines = []
    for comp in status.components:
        state = "running" if comp.running else "stopped"
        where = f" port {comp.port}" if comp.port else ""
        pid = f" pid {comp.pid}" if comp.pid else ""
        detail = f" ({comp.detail})" if comp.detail else ""
        lines.append(f"  {comp.name:<9} {state}{where}{pid}{detail}")
    return lines


def _up(args: argparse.Namespace) -> int:
    status = lab.up()
    total = status.timings.get("total", 0.0)
    if status.already_running:
        lines = [f"lab already running ({total:.1f} s to check)", *_component_lines(status)]
    else:
        lines = ["lab up; this run did:", *(f"  - {what}" for what in status.started)]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in status.timings.items() if k != "total")
        lines.append(f"  timings: {steps}")
        lines.append(f"  ready in {total:.1f} s")
        if not _built_something(status) and total > _UP_WHEN_BUILT_BUDGET_S:
            lines.append(f"  warning: slower than the {_UP_WHEN_BUILT_BUDGET_S:.0f} s budget")
    lines += [
        f"NETBOX_URL={status.netbox_url}",
        f"credentials: {lab.LabPaths.default().netbox_env}",
    ]
    _emit(args, status.to_dict(), lines)
    return int(ExitCode.OK)


def _built_something(status: lab.LabStatus) -> bool:
    """Installing, migrating or seeding legitimately takes minutes; the budget excludes them."""
    heavy = ("installed", "migrated", "seed loaded")
    return any(word in step for step in status.started for word in heavy)


def _down(args: argparse.Namespace) -> int:
    stopped = lab.down(force=args.force)
    text = f"stopped: {', '.join(stopped)}" if stopped else "nothing was running"
    _emit(args, {"stopped": stopped}, [text])
    return int(ExitCode.OK)


def _status(args: argparse.Namespace) -> int:
    status = lab.status()
    head = "lab running" if status.running else "lab not (fully) running"
    lines = [f"{head} ({status.lab_dir})", *_component_lines(status)]
    if status.netbox_url:
        lines.append(f"  NetBox {status.netbox_version} at {status.netbox_url}")
    _emit(args, status.to_dict(), lines)
    # Scripts use the exit code to decide whether to run `sop lab up`.
    return int(ExitCode.OK if status.running else ExitCode.ENVIRONMENT)


def _reset(args: argparse.Namespace) -> int:
    seconds = lab.reset()
    lines = [f"lab reset to the seed state in {seconds:.2f} s"]
    if seconds > _RESET_BUDGET_S:
        lines.append(f"  warning: slower than the {_RESET_BUDGET_S:.0f} s budget")
    _emit(args, {"reset": True, "seconds": seconds}, lines)
    return int(ExitCode.OK)


def _servers(args: argparse.Namespace) -> int:
    from sop_runner.lab import servers

    argv = [args.servers_action, "-n", str(args.count)] + (["--json"] if getattr(args, "json", False) else [])
    return servers.main(argv)
