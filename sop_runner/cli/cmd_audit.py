"""`sop audit verify|export`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sop_runner.cli.common import add_identity, emit, service, who
from sop_runner.cli.exitcodes import ExitCode
from sop_runner.service import audit


def cmd_verify(args: argparse.Namespace) -> int:
    svc = service(args, quiet=True)
    count, problems = audit.verify(svc.cfg, svc.store)
    data = {"rows": count, "ok": not problems, "problems": [{"seq": p.seq, "reason": p.reason} for p in problems]}
    text = (
        f"audit log: {count} rows, chain and signatures verify"
        if not problems
        else f"audit log: {count} rows, {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems)
    )
    emit(args, data, text)
    return int(ExitCode.OK if not problems else ExitCode.AUDIT_BROKEN)


def cmd_resolve(args: argparse.Namespace) -> int:
    svc = service(args, quiet=True)
    state = svc.resolve(args.run_id, who(args), args.decision, args.reason)
    emit(args, {"run_id": state.run_id, "status": str(state.status)},
         f"run {state.run_id}: {args.decision} recorded (signed by {who(args)}); status {state.status}")
    return int(ExitCode.OK)


def cmd_scrub(args: argparse.Namespace) -> int:
    svc = service(args, quiet=True)
    changed = audit.scrub(svc.cfg)
    emit(args, {"files_changed": changed}, f"scrubbed secrets from {changed} file(s)")
    return int(ExitCode.OK)


def cmd_export(args: argparse.Namespace) -> int:
    svc = service(args, quiet=True)
    with open(args.output, "w", encoding="utf-8") as fh:  # noqa: PTH123 - plain file handle is clearest
        for row in svc.store.audit_rows():
            fh.write(
                json.dumps(
                    {
                        "seq": row.seq,
                        "run_id": row.run_id,
                        "ts": row.ts,
                        "kind": row.kind,
                        "actor": row.actor,
                        "data": row.data,
                        "run_seq": row.run_seq,
                        "content_hash": row.content_hash,
                        "signature": row.signature,
                        "prev_hash": row.prev_hash,
                        "hash": row.hash,
                    },
                    ensure_ascii=False,
                    sort_keys=True,
                )
                + "\n"
            )
    print(f"exported to {args.output}")
    return int(ExitCode.OK)


def register(sub: Any) -> None:
    """Register `sop audit`."""
    p = sub.add_parser("audit", help="verify or export the tamper-evident audit log")
    asub = p.add_subparsers(dest="audit_cmd", required=True)
    v = asub.add_parser("verify", help="recompute the hash chain and check every signature")
    add_identity(v)
    v.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    v.set_defaults(func=cmd_verify)
    r = asub.add_parser("resolve", help="an administrator's signed decision on a frozen run")
    add_identity(r)
    r.add_argument("run_id")
    r.add_argument("--decision", required=True, choices=["continue", "cancel"])
    r.add_argument("--reason", "-m", required=True)
    r.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    r.set_defaults(func=cmd_resolve)
    sc = asub.add_parser("scrub", help="remove every configured secret value from the runs' stored files")
    add_identity(sc)
    sc.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    sc.set_defaults(func=cmd_scrub)
    e = asub.add_parser("export", help="write the log as JSON lines (verifiable offline)")
    add_identity(e)
    e.add_argument("output")
    e.set_defaults(func=cmd_export)
