"""Render a run for people and for scripts."""

from __future__ import annotations

from typing import Any

from sop_runner.core.catalogue.model import SopDefinition
from sop_runner.core.run.state import RunState
from sop_runner.service.sla import visit_rows


def run_dict(sop: SopDefinition, s: RunState, *, with_plan: bool = False) -> dict[str, Any]:
    """A JSON-able view of the run."""
    cur = sop.step(s.current) if s.current is not None else None
    plans = {
        str(k): {
            "hash": p.hash,
            "changed": p.changed,
            "summary": p.summary,
            "stats": p.stats,
            **({"diff": p.diff} if with_plan else {}),
        }
        for k, p in s.plans.items()
    }
    return {
        "run_id": s.run_id,
        "sop_id": s.sop_id,
        "title": sop.title,
        "requester": s.requester,
        "status": str(s.status),
        "outcome": str(s.outcome) if s.outcome else None,
        "current_step": s.current,
        "current": None
        if cur is None
        else {
            "number": cur.number,
            "kind": str(cur.kind),
            "text": cur.text,
            "actor": sop.actor(cur.actor).name,
            "role": sop.actor(cur.actor).role,
            "approves_plan_of": cur.approves_plan_of,
        },
        "params": s.params,
        "plans": plans,
        "gates": [
            {
                "step": g.step,
                "user": g.user,
                "role": g.role,
                "action": g.action,
                "plan_hash": g.plan_hash,
                "comment": g.comment,
                "at": g.at.isoformat(),
            }
            for g in s.gates
        ],
        "documents": s.documents,
        "applied": {str(k): v for k, v in s.applied.items()},
        "urgent": {str(k): v for k, v in s.urgent.items()},
        "last_error": s.last_error,
        "steps": visit_rows(sop, s),
    }


def run_text(sop: SopDefinition, s: RunState, *, with_plan: bool = False) -> str:
    """The run as a person reads it."""
    lines = [
        f"Run {s.run_id}  {sop.id}: {sop.title}",
        f"  requester: {s.requester}   status: {s.status}{'   outcome: ' + str(s.outcome) if s.outcome else ''}",
    ]
    if s.last_error:
        lines.append(f"  last error: {s.last_error}")
    lines.append("  params: " + ", ".join(f"{k}={v}" for k, v in s.params.items()))
    lines.append("")
    lines.append("  step  by                    took          standard    status")
    for row in visit_rows(sop, s):
        lines.append(
            f"  {row['number']:>4}  {row['by'] or '-':<20}  {row['duration']:<12}  {row['standard']:<10}  "
            f"{row['outcome'] or 'waiting'} {'(' + row['sla'] + ')' if row['sla'] else ''}"
        )
    if s.current is not None:
        cur = sop.step(s.current)
        actor = sop.actor(cur.actor)
        lines += [
            "",
            f"  NEXT: step {cur.number} [{cur.kind}] by {actor.name} (role {actor.role})",
            f"        {cur.text}",
        ]
        if cur.approves_plan_of is not None:
            plan = s.plans.get(cur.approves_plan_of)
            lines.append(
                f"        approves the plan of step {cur.approves_plan_of}: "
                + (f"{plan.hash[:16]} ({plan.changed} change(s))" if plan else "no plan yet: run `sop plan`")
            )
    for step_no, plan in sorted(s.plans.items()):
        lines += ["", f"  plan of step {step_no}: {plan.hash}  ({plan.changed} change(s))"]
        sop_plan = plan.stats.get("sop_plan")
        if isinstance(sop_plan, dict):
            lines += [f"    {k}: {v}" for k, v in sop_plan.items()]
        if with_plan:
            lines += ["", *("    " + ln for ln in (plan.diff or "(no diff)").splitlines())]
    if s.documents:
        lines += ["", "  documents:"]
        for doc_id, d in s.documents.items():
            lines.append(f"    {doc_id}: {d.get('files', {}).get('md', '')}")
    return "\n".join(lines)
