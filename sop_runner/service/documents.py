"""Build a document's context from a run and render it (Berita Acara, Laporan, letters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sop_runner.adapters.paperwork.numbering import letter_number
from sop_runner.adapters.paperwork.pdfsign import PadesSigner
from sop_runner.adapters.paperwork.render import Rendered, render_document
from sop_runner.adapters.paperwork.waktu import jam, tanggal
from sop_runner.core.canonical import sha256_hex
from sop_runner.core.catalogue.model import Document, SopDefinition
from sop_runner.core.run.state import RunState
from sop_runner.core.timestd import TimeKind, format_minutes
from sop_runner.service.sla import visit_rows

if TYPE_CHECKING:
    from sop_runner.service.runs import RunService

_OUTCOME_ID = {
    None: "dalam proses",
    "completed": "SELESAI — permohonan dipenuhi",
    "rejected": "DITOLAK — permohonan tidak dipenuhi",
    "failed": "GAGAL",
    "rolled_back": "GAGAL dan DIKEMBALIKAN (rollback)",
    "cancelled": "DIBATALKAN",
}
_ACTION_ID = {"approve": "menyetujui", "reject": "menolak", "ya": "memutuskan YA", "tidak": "memutuskan TIDAK"}


def key_fingerprint(public_key: str) -> str:
    """The OpenSSH fingerprint of a public key line, as `ssh-keygen -l` prints it."""
    import base64
    import hashlib

    parts = public_key.split()
    if len(parts) < 2:
        return "-"
    try:
        blob = base64.b64decode(parts[1])
    except ValueError:
        return "-"
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def _signers(
    cfg: Any, state: RunState, sop: SopDefinition, doc: Document, sig_by_step: dict[int, str]
) -> list[dict[str, Any]]:
    """Who signs this document: for each signing lane, the person who acted in it in this run
    (every gate's signer when the document names no lanes), with their key fingerprint. A lane
    nobody acted in (a letter signed by the Kepala Dinas on a run rejected earlier) is signed by
    the configured holder of its role, so the letter still names its official."""
    rows: list[dict[str, Any]] = []
    acts: list[tuple[int, str, str, datetime]] = []  # step, user, action text, time
    for g in state.gates:
        acts.append((g.step, g.user, _ACTION_ID.get(g.action, g.action), g.at))
    for v in state.visits:
        if v.by and v.ended and not any(a[0] == v.step and a[1] == v.by for a in acts):
            acts.append((v.step, v.by, "melaksanakan", v.ended))
    lanes = doc.signers or [sop.step(a[0]).actor for a in acts if a[0] in sig_by_step]
    for lane in dict.fromkeys(lanes):
        mine = [a for a in acts if sop.step(a[0]).actor == lane and a[1] != "sop-runner"]
        actor = sop.actor(lane)
        if mine:
            step, user, action, at = sorted(mine, key=lambda a: (a[3], a[0]))[-1]
            action_text: str = f"langkah {step}: {action}"
        else:
            holder = next((u for u in cfg.users.values() if u.has(actor.role)), None)
            if holder is None:
                continue
            user, action_text, at, step = holder.username, "-", None, 0
        u = cfg.users.get(user)
        rows.append(
            {
                "actor_name": actor.name,
                "name": u.name if u else user,
                "nip": u.nip if u else "",
                "jabatan": (u.jabatan if u else "") or actor.name,
                "pangkat": u.pangkat if u else "",
                "action_text": action_text,
                "at": at if at is not None else "-",
                "key": key_fingerprint(u.public_key) if u else "-",
                "fingerprint": fingerprint(sig_by_step.get(step, "")) if step in sig_by_step else "-",
            }
        )
    return rows


def fingerprint(armored: str) -> str:
    """A short, stable fingerprint of a signature for printing."""
    return "SHA256:" + sha256_hex(armored)[:24] if armored else "-"


def context(
    svc: RunService,
    state: RunState,
    sop: SopDefinition,
    doc: Document,
    *,
    number: str = "",
    issued: datetime | None = None,
) -> dict[str, Any]:
    """Everything the templates can use; ``number`` is the register's number for this issue."""
    cfg = svc.cfg
    tenants = {**_SKPD, **cfg.organisation.tenants}
    requester = cfg.users.get(state.requester)
    events = svc.store.events(state.run_id)
    sig_by_step: dict[int, str] = {}
    for ev in events:
        if ev.kind in ("step.decided", "step.approved", "step.rejected") and ev.signature:
            sig_by_step[int(ev.data["step"])] = ev.signature
    signers = _signers(cfg, state, sop, doc, sig_by_step)
    labels = {p.name: p.label for p in sop.parameters}
    params = [
        {"label": labels.get(k, k), "value": _param_value(k, v, tenants)} for k, v in state.params.items()
    ]
    plan_ctx: dict[str, Any] | None = None
    auto_steps = [s.number for s in sop.steps if s.automated]
    applied = [n for n in auto_steps if n in state.applied]
    chosen = applied[-1] if applied else (auto_steps[-1] if auto_steps and auto_steps[-1] in state.plans else None)
    if chosen is not None and chosen in state.plans:
        plan = state.plans[chosen]
        sop_plan = plan.stats.get("sop_plan", {}) if isinstance(plan.stats.get("sop_plan"), dict) else {}
        approved_hash = state.applied.get(chosen, plan.hash)
        plan_ctx = {
            "hash": approved_hash,
            "diff": _approved_diff(events, chosen, approved_hash) or plan.diff,
            "summary": plan.summary,
            "result": ordered(sop_plan),
        }
    # What the apply itself reported (set_stats ``sop_result``: e.g. the versions before and
    # after an upgrade, the actions taken), as opposed to the plan's check-mode prediction.
    applied_result: dict[str, Any] = {}
    for ev in events:
        if (
            ev.kind == "apply.finished"
            and chosen is not None
            and int(ev.data.get("step", 0)) == chosen
            and ev.data.get("status") == "successful"
        ):
            stats = ev.data.get("stats") or {}
            result = stats.get("sop_result") if isinstance(stats, dict) else None
            applied_result = dict(result) if isinstance(result, dict) else {}
    verification = []
    for ev in events:
        if ev.kind == "apply.host_result":
            verification.append(
                {
                    "host": ev.data.get("host"),
                    "ok": ev.data.get("ok", 0),
                    "changed": ev.data.get("changed", 0),
                    "failures": ev.data.get("failures", 0),
                    "dark": ev.data.get("dark", 0),
                }
            )
    rejection: dict[str, Any] = {"reason": "", "by": "", "step": ""}
    for g in state.gates:
        if g.action in ("tidak", "reject"):
            u = cfg.users.get(g.user)
            rejection = {"reason": g.comment, "by": u.name if u else g.user, "step": g.step}
    steps = []
    for row in visit_rows(sop, state):
        u = cfg.users.get(row["by"]) if row["by"] else None
        steps.append({**row, "by_name": (u.name if u else row["by"]) or "-"})
    urgent = []
    for step_no, rec in state.urgent.items():
        gate_step = next((s.number for s in sop.steps if s.approves_plan_of == step_no), None)
        gate = state.gate_for(gate_step) if gate_step else None
        urgent.append(
            {
                "step": step_no,
                "by": rec.get("by", ""),
                "at": rec.get("at", ""),
                "reason": rec.get("reason", ""),
                "deadline": rec.get("deadline", ""),
                "status": urgent_status(rec, gate, cfg.organisation.timezone),
            }
        )
    number_text = f"nomor {sop.source.number}" if sop.source.number else ""
    issued = issued or datetime.now(UTC)
    skpd = str(state.params.get("skpd", requester.tenant if requester else ""))
    result = plan_ctx["result"] if plan_ctx else {}
    shown = {str(p["value"]) for p in params}
    head_seq, head_hash = svc.store.chain_head()
    return {
        "org": cfg.organisation,
        "issued_at": issued,
        # The chain head when issued: a reader checks the document against the log offline.
        "audit_head": {"seq": head_seq, "hash": head_hash},
        "doc": {
            "id": doc.id,
            "kind": str(doc.kind),
            "title": doc.title,
            "number": number or "-",
        },
        # The result without what the request already says (the reply letter names each fact once).
        # Only text is compared: a count equal to some parameter's value is still a new fact.
        "new_result": {
            k: v for k, v in result.items() if not (isinstance(v, str) and _param_value(k, v, tenants) in shown)
        },
        "sop": {
            "id": sop.id,
            "title": sop.title,
            "title_case": title_case(sop.title),
            "number_text": number_text,
            "source_title": sop.source.title,
        },
        "run": {
            "id": state.run_id,
            "created": state.created,
            "requester": {
                "name": requester.name if requester else state.requester,
                "nip": requester.nip if requester else "",
                "tenant": requester.tenant if requester else "",
            },
            "skpd_name": tenants.get(skpd, skpd or "-"),
            # Started by Kominfo staff (its first row is not an SKPD's request, e.g. SOP 24's
            # upgrade reminder): letters announce the work instead of answering a request.
            "internal": sop.starter_role != "requester",
            "rejected": state.rejected,
            "outcome_text": _OUTCOME_ID.get(
                str(state.outcome) if state.outcome else ("rejected" if state.rejected else "completed"), ""
            ),
        },
        "params": params,
        "signers": signers,
        "plan": plan_ctx,
        "applied_result": ordered(applied_result),
        "verification": verification,
        "rejection": rejection,
        "steps": steps,
        "urgent": urgent,
        "items": [],
        "findings": list(plan_ctx["result"].get("findings", []))
        if plan_ctx and isinstance(plan_ctx["result"].get("findings"), list)
        else [],
        "author": "Kepala Seksi",
        "TimeKind": TimeKind,
        "format_minutes": format_minutes,
    }


_UPPER = {"IP", "VPS", "DMZ", "OS", "DC", "UPS", "SKPD", "OPD", "PDN", "TIK", "DNS", "PLN", "SPBE", "ID", "GO"}
_LOWER = {"dan", "di", "ke", "dari", "untuk", "atau", "yang", "pada", "terhadap", "dengan", "karena"}


def title_case(title: str) -> str:
    """'PERMOHONAN IP PUBLIK' -> 'Permohonan IP Publik' (acronyms kept, small words lower)."""
    words = []
    for i, word in enumerate(title.split()):
        bare = word.strip("().,").upper()
        if bare in _UPPER or word.startswith("."):
            words.append(word.upper() if not word.startswith(".") else word.lower())
        elif i and word.lower() in _LOWER:
            words.append(word.lower())
        else:
            lead = len(word) - len(word.lstrip("(\"'"))
            words.append(word[:lead] + word[lead : lead + 1].upper() + word[lead + 1 :].lower())
    return " ".join(words)


def urgent_status(rec: dict[str, Any], gate: Any, zone: str = "Asia/Jakarta") -> str:
    """Whether the late approval of an urgent apply came, and within its deadline (times in ``zone``)."""
    from datetime import timedelta

    from sop_runner.core.timestd import parse_time

    def when(dt: datetime) -> str:
        here = dt.astimezone(ZoneInfo(zone))
        return f"{tanggal(here)} {jam(here, zone)}"

    at = datetime.fromisoformat(str(rec.get("at")))
    limit = parse_time(str(rec.get("deadline", ""))).minutes or 24 * 60
    due = at + timedelta(minutes=limit)
    if gate is not None and gate.action == "approve":
        late = " (TERLAMBAT)" if gate.at > due else ""
        return f"disetujui kemudian oleh {gate.user} pada {when(gate.at)}{late}"
    if gate is not None:
        return f"DITOLAK kemudian oleh {gate.user}"
    overdue = datetime.now(UTC) > due
    return "BELUM DISETUJUI" + (" dan MELEWATI BATAS" if overdue else f" (batas {when(due)})")


def _approved_diff(events: list[Any], step: int, plan_hash: str) -> str:
    for ev in events:
        if ev.kind == "plan.created" and int(ev.data.get("step", 0)) == step and ev.data.get("plan_hash") == plan_hash:
            return str(ev.data.get("diff", ""))
    return ""


_SKPD = {
    "dinkes": "Dinas Kesehatan",
    "bkd": "Badan Kepegawaian Daerah",
    "bappeda": "Bappeda",
    "disdukcapil": "Dinas Kependudukan dan Pencatatan Sipil",
    "disdik": "Dinas Pendidikan",
    "diskominfo": "Dinas Komunikasi dan Informatika",
}


def _param_value(key: str, value: Any, tenants: dict[str, str]) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value in (None, ""):
        return "-"
    if key in ("skpd", "tenant") and isinstance(value, str):
        return tenants.get(value, value)
    return value


def ordered(result: dict[str, Any]) -> dict[str, Any]:
    """Result keys with each "before" ahead of its "after" ("Sisa alamat sebelum", then "sesudah").

    The store keeps results as sorted JSON, which put ``free_after`` before ``free_before``.
    """
    out: dict[str, Any] = {}
    for key, value in result.items():
        twin = key.replace("after", "before")
        if twin != key and twin in result and twin not in out:
            out[twin] = result[twin]
        out.setdefault(key, value)
    return out


def pdf_signer(cfg: Any) -> PadesSigner | None:
    """The configured PAdES signer, or None (``pdf_signing`` unset)."""
    conf = cfg.pdf_signing
    if not conf:
        return None
    return PadesSigner(conf["key"], conf["cert"], tuple(conf["chain"]), location=cfg.organisation.city)


def render(svc: RunService, state: RunState, sop: SopDefinition, doc: Document) -> Rendered:
    """Render ``doc`` for ``state`` into the run's documents folder, numbered from the register.

    The number is taken before rendering (it is in the Markdown, so in the recorded digest);
    if rendering fails it is recorded as cancelled, never handed out again.
    """
    org = svc.cfg.organisation
    issued = datetime.now(UTC)
    year = issued.astimezone(ZoneInfo(org.timezone)).year
    kind, code = str(doc.kind), org.classification_for(str(doc.kind))
    seq, number = svc.store.reserve_number(
        org.name, kind, year, state.run_id, doc.id, lambda n: letter_number(code, n, org.unit, year)
    )
    try:
        ctx = context(svc, state, sop, doc, number=number, issued=issued)
        out = svc.cfg.home / "runs" / state.run_id / "documents"
        rendered = render_document(doc.template, ctx, out, doc.id, pdf=True, signer=pdf_signer(svc.cfg))
    except BaseException:
        svc.store.settle_number(org.name, kind, year, seq, "cancelled")
        raise
    svc.store.settle_number(org.name, kind, year, seq, "issued")
    return rendered
