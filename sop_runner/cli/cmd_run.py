"""`sop request|runs|show|plan|decide|approve|reject|done|apply|resume|cancel|docs`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sop_runner.cli.common import add_identity, emit, parse_params, service, table, who
from sop_runner.cli.exitcodes import ExitCode
from sop_runner.cli.views import run_dict, run_text
from sop_runner.errors import InvalidInputError
from sop_runner.service.runs import RunService, Signature


def _show(args: argparse.Namespace, svc: RunService, run_id: str, *, with_plan: bool = False) -> int:
    state = svc.state(run_id)
    sop = svc.sop(state.sop_id)
    emit(args, run_dict(sop, state, with_plan=with_plan), run_text(sop, state, with_plan=with_plan))
    return int(ExitCode.OK)


def _sig(args: argparse.Namespace) -> Signature:
    armored = Path(args.signature).read_text(encoding="ascii") if getattr(args, "signature", None) else ""
    return Signature(key_file=getattr(args, "key", "") or "", armored=armored)


def cmd_request(args: argparse.Namespace) -> int:
    svc = service(args)
    state = svc.request(args.sop_id, who(args), parse_params(args.param), sig=_sig(args))
    return _show(args, svc, state.run_id)


def cmd_runs(args: argparse.Namespace) -> int:
    svc = service(args)
    runs = svc.store.runs()
    if args.status:
        runs = [r for r in runs if r["status"] == args.status]
    rows = [
        [r["run_id"], r["sop_id"], r["requester"], r["status"], r["outcome"] or "", str(r["current_step"] or "")]
        for r in runs
    ]
    emit(args, runs, table(rows, ["run", "sop", "requester", "status", "outcome", "step"]) if rows else "no runs")
    return int(ExitCode.OK)


def cmd_show(args: argparse.Namespace) -> int:
    return _show(args, service(args), args.run_id, with_plan=args.plan)


def cmd_plan(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.plan(args.run_id, who(args), sig=_sig(args))
    return _show(args, svc, args.run_id, with_plan=True)


def cmd_decide(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.decide(args.run_id, who(args), args.answer, args.reason, step=args.step, sig=_sig(args))
    return _show(args, svc, args.run_id)


def _approval(args: argparse.Namespace, approve: bool) -> int:
    svc = service(args)
    if args.print_statement:
        action = "approve" if approve else "reject"
        text = svc.gate_statement(args.run_id, who(args), action, args.comment, plan_hash=args.plan_hash)
        print(text.decode("utf-8"), end="")
        return int(ExitCode.OK)
    svc.approve(
        args.run_id, who(args), approve, args.comment, step=args.step, sig=_sig(args), plan_hash=args.plan_hash
    )
    return _show(args, svc, args.run_id)


def cmd_approve(args: argparse.Namespace) -> int:
    return _approval(args, True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _approval(args, False)


def cmd_done(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.complete(
        args.run_id, who(args), step=args.step, note=args.note, evidence=[Path(e) for e in args.evidence],
        sig=_sig(args),
    )
    return _show(args, svc, args.run_id)


def cmd_apply(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.apply(args.run_id, who(args), urgent_reason=args.urgent or "", sig=_sig(args))
    return _show(args, svc, args.run_id)


def cmd_resume(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.resume(args.run_id, who(args), sig=_sig(args))
    return _show(args, svc, args.run_id)


def cmd_cancel(args: argparse.Namespace) -> int:
    svc = service(args)
    svc.cancel(args.run_id, who(args), args.reason, sig=_sig(args))
    return _show(args, svc, args.run_id)


def cmd_docs(args: argparse.Namespace) -> int:
    if args.run_id == "verify":
        return _verify_doc(args)
    svc = service(args)
    state = svc.state(args.run_id)
    docs: dict[str, Any] = state.documents
    rows = [
        [d, str(v.get("title", "")), str(v.get("files", {}).get("md", "")), str(v.get("sha256", ""))[:16]]
        for d, v in docs.items()
    ]
    emit(args, docs, table(rows, ["document", "title", "file", "sha256"]) if rows else "no documents yet")
    return int(ExitCode.OK)


def _verify_doc(args: argparse.Namespace) -> int:
    """`sop docs verify FILE`: the file is a document the runner issued, and the log verifies."""
    from sop_runner.service.docverify import verify_file

    if not args.file:
        raise InvalidInputError("sop docs verify: which file?", hint="sop docs verify PATH/TO/DOCUMENT.pdf")
    svc = service(args, quiet=True)
    found = verify_file(svc.cfg, svc.store, Path(args.file))
    text = (f"OK: {args.file} is document {found.doc_id} ({found.title}) of run {found.run_id}, issued in "
            f"audit row {found.event_seq}; SHA-256 {found.sha256}; audit log verified ({found.rows_checked} rows)")
    emit(args, {"ok": True, "run_id": found.run_id, "doc_id": found.doc_id, "format": found.fmt,
                "sha256": found.sha256, "event_seq": found.event_seq}, text)
    return int(ExitCode.OK)


def _run_parser(sub: Any, name: str, helptext: str, func: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=helptext, description=helptext)
    add_identity(p)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    # Every action is signed by the person who acts: their key proves who they are.
    p.add_argument("--key", default="", help="your SSH private key, or its .pub with ssh-agent (default: configured)")
    p.set_defaults(func=func)
    return p


def register(sub: Any) -> None:
    """Register the run sub-commands."""
    p = _run_parser(sub, "request", "submit a request: create a run of an SOP", cmd_request)
    p.add_argument("sop_id")
    p.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a request parameter (repeat); lists as JSON, e.g. ports='[\"443\"]'",
    )
    p = _run_parser(sub, "runs", "list runs", cmd_runs)
    p.add_argument("--status", default="")
    p = _run_parser(sub, "show", "show a run: steps, times, plans, documents", cmd_show)
    p.add_argument("run_id")
    p.add_argument("--plan", action="store_true", help="include the full diff of every plan")
    p = _run_parser(sub, "plan", "make the plan (check mode + diff) of the automated step at hand", cmd_plan)
    p.add_argument("run_id")
    for name, func, helptext in (
        ("approve", cmd_approve, "approve the current approval step (signed)"),
        ("reject", cmd_reject, "reject the current approval step (signed)"),
    ):
        p = _run_parser(sub, name, helptext, func)
        p.add_argument("run_id")
        p.add_argument("--step", type=int, default=None, help="the step you mean (refused if not current)")
        p.add_argument("--comment", "-m", default="")
        p.add_argument("--plan", dest="plan_hash", default=None, metavar="HASH",
                       help="the hash of the plan you reviewed (`sop show RUN --plan`); required to approve a plan")
        p.add_argument("--signature", default=None, help="a signature file made elsewhere (ssh-keygen -Y sign)")
        p.add_argument("--print-statement", action="store_true",
                       help="print the exact statement to sign offline, then exit")
    p = _run_parser(sub, "decide", "answer the current decision step ya/tidak (signed)", cmd_decide)
    p.add_argument("run_id")
    p.add_argument("answer", choices=["ya", "tidak", "y", "t"])
    p.add_argument("--reason", "-m", required=True)
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--signature", default=None)
    p = _run_parser(sub, "done", "confirm a manual, notify or document step", cmd_done)
    p.add_argument("run_id")
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--note", "-m", default="")
    p.add_argument("--evidence", action="append", default=[], metavar="FILE")
    p = _run_parser(sub, "apply", "apply the approved plan of the current automated step", cmd_apply)
    p.add_argument("run_id")
    p.add_argument(
        "--urgent",
        default="",
        metavar="REASON",
        help="emergency SOPs only: act before approval, approval recorded afterwards",
    )
    p = _run_parser(sub, "resume", "continue an interrupted or failed run", cmd_resume)
    p.add_argument("run_id")
    p = _run_parser(sub, "cancel", "cancel a run", cmd_cancel)
    p.add_argument("run_id")
    p.add_argument("--reason", "-m", required=True)
    p = _run_parser(sub, "docs", "list a run's documents (`sop docs RUN`), or check one (`sop docs verify FILE`)",
                    cmd_docs)
    p.add_argument("run_id", help="a run, or the word verify")
    p.add_argument("file", nargs="?", default="", help="with verify: the .md, .html or .pdf to check")
