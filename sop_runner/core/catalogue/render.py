"""Render an SOP back into the official table form, so an official can check it against paper.

The paper's table has one row per step and one swimlane column per actor; the OCR lost the
swimlane marks, so showing them again (✓, or ◇ for a decision) is how a reviewer sees which
actor the encoder chose. Markdown is the primary form (``docs/sops``); text is for terminals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from sop_runner.core.catalogue.coverage import (
    GroupCoverage,
    SopStats,
    coverage,
    format_percent,
    total_time,
)
from sop_runner.core.catalogue.model import Group, SopDefinition, Step, StepKind

ACT = "✓"
DECIDE = "◇"
BEYOND = "†"
MUTU_BAKU = ("Syarat/Kelengkapan", "Waktu", "Output")


def catalogue_order(sops: Iterable[SopDefinition]) -> list[SopDefinition]:
    """Group by group (in :class:`Group` order), then by id with numbers compared as numbers."""
    groups = list(Group)

    def key(sop: SopDefinition) -> tuple[int, list[tuple[int, str]]]:
        parts = [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", sop.id) if p]
        return groups.index(sop.group), parts

    return sorted(sops, key=key)


def _cell(text: str) -> str:
    """One Markdown table cell: a pipe or a line break would split the row."""
    return " ".join(text.split()).replace("|", "\\|") or " "


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _head(*names: str, numeric: int = 0) -> list[str]:
    """Header row and separator; the last ``numeric`` columns are right-aligned."""
    seps = ["---"] * (len(names) - numeric) + ["---:"] * numeric
    return [_row(names), "|" + "|".join(seps) + "|"]


def _target(sop: SopDefinition, step: Step, target: int | str | None) -> str:
    if target == "end":
        return "selesai"
    if target is None:  # 'ya' defaults to the next step in table order
        nxt = sop.next_step(step.number)
        return str(nxt.number) if nxt else "selesai"
    return str(target)


def keterangan(sop: SopDefinition, step: Step) -> str:
    """The Keterangan cell: the paper's remarks plus where a decision or approval leads."""
    notes: list[str] = []
    if step.branches is not None:
        # An approval's 'ya' is implicit (carry on); a decision shows both ways like the paper.
        if step.kind is StepKind.DECISION or step.branches.ya is not None:
            notes.append(f"Y→{_target(sop, step, step.branches.ya)}")
        notes.append(f"T→{_target(sop, step, step.branches.tidak)}")
    if step.next is not None:  # the row does not flow into the one below it (e.g. after a rejection)
        notes.append(f"lanjut→{_target(sop, step, step.next)}")
    if step.remarks:
        notes.append(step.remarks)
    return "; ".join(notes)


def automation_binding(step: Step) -> str:
    """What runs the step: its playbook, the pending note, or nothing (people do it)."""
    auto = step.automation
    if step.automated and auto is not None:
        role = f" (role `{auto.role}`)" if auto.role else ""
        return f"playbook `{auto.playbook}`{role}"
    if auto is not None and auto.status == "pending":
        return f"pending: {' '.join(auto.note.split())}"
    if step.technical:
        return "pending: no note"
    return "—"


def readable_duration(minutes: float) -> str:
    """``3015`` -> ``"2 hari 2 jam 15 menit"``: calendar units, as :mod:`timestd` counts them."""
    days, rest = divmod(round(minutes), 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "hari"), (hours, "jam"), (mins, "menit")) if n]
    return " ".join(parts) or "0 menit"


def total_time_text(sop: SopDefinition) -> str:
    """E.g. "3015 menit (2 hari 2 jam 15 menit)", then the steps without a bound, counted."""
    total = total_time(sop)
    minutes = f"{total.minutes:g} menit"
    readable = readable_duration(total.minutes)
    text = minutes if readable == minutes else f"{minutes} ({readable})"
    if total.unlimited:
        text += f"; {total.unlimited} langkah Unlimited"
    if total.unspecified:
        text += f"; {total.unspecified} langkah tanpa waktu"
    return text


def _header_md(sop: SopDefinition) -> list[str]:
    src = sop.source
    lines = [f"# {sop.title}", "", "| | |", "|---|---|"]
    lines.append(_row(["Nama SOP", sop.title]))
    if src.sop_code:
        lines.append(_row(["Nomor SOP", src.sop_code]))
    lines.append(_row(["Sumber", f"{src.title} (dokumen {src.document}, SOP nomor {src.number})"]))
    lines.append(_row(["Penerbit", src.issuer]))
    lines.append(_row(["ID katalog", f"`{sop.id}` · {sop.group.value} · {sop.title_en}"]))
    lines += ["", "## Dasar Hukum", ""]
    lines += [f"{i}. {' '.join(law.split())}" for i, law in enumerate(sop.legal_basis, 1)]
    if sop.summary:
        lines += ["", "## Summary", "", " ".join(sop.summary.split())]
    return lines


def _procedure_md(sop: SopDefinition) -> list[str]:
    lines = ["## Uraian Prosedur", ""]
    if sop.uraian:  # the paper's own narrative list; the steps are the table below
        return lines + [f"{i}. {' '.join(item.split())}" for i, item in enumerate(sop.uraian, 1)]
    names = {a.id: a.name for a in sop.actors}
    for step in sop.steps:
        if not step.text:  # an output-only row: the paper gives no text and no actor
            lines.append(f"{step.number}. — (output: {' '.join(step.output.split()) or '-'})")
            continue
        actor = names.get(step.actor, step.actor)
        lines.append(f"{step.number}. {' '.join(step.text.split())} ({actor})")
    return lines


def _table_md(sop: SopDefinition) -> list[str]:
    head = ["No", "Uraian Prosedur", *(a.name for a in sop.actors)]
    head += [f"Mutu Baku: {m}" for m in MUTU_BAKU] + ["Keterangan"]
    lines = ["## Tabel Prosedur", "", *_head(*head)]
    for step in sop.steps:
        lanes = _lanes(sop, step)
        lines.append(
            _row(
                [
                    f"{step.number}{BEYOND if step.beyond_table else ''}",
                    step.text,
                    *lanes,
                    step.requires,
                    step.time,
                    step.output,
                    keterangan(sop, step),
                ]
            )
        )
    lines += ["", f"**Total waktu (Mutu Baku):** {total_time_text(sop)}"]
    if any(s.beyond_table for s in sop.steps):
        lines += ["", f"{BEYOND} not a row of the paper's table (see Interpretation)."]
    return lines


def _lanes(sop: SopDefinition, step: Step) -> list[str]:
    """The swimlane marks; an output-only row (no text on paper) has none, as on paper."""
    if not step.text:
        return ["" for _ in sop.actors]
    mark = DECIDE if step.kind is StepKind.DECISION else ACT
    return [mark if a.id == step.actor else "" for a in sop.actors]


def interpretation(sop: SopDefinition, step: Step) -> list[str]:
    """What the editors added to the paper's row, each item labelled; empty for a plain row."""
    items: list[str] = []
    if step.beyond_table:
        items.append(f"not on paper: {' '.join(step.beyond_table.split())}")
    if not step.text:
        items.append(f"runner actor: {sop.actor(step.actor).name}")
    if step.approves_plan_of is not None:
        items.append(f"approves the plan of step {step.approves_plan_of}")
    if step.paper is not None:
        cells = step.paper.model_dump(exclude_none=True)
        items += [f"on paper, {name}: {json.dumps(value, ensure_ascii=False)}" for name, value in cells.items()]
    if step.note:
        items.append(f"note: {' '.join(step.note.split())}")
    return items


def _interpretation_md(sop: SopDefinition) -> list[str]:
    lines = ["## Interpretation (editors, not on paper)", ""]
    rows = [(step.number, interpretation(sop, step)) for step in sop.steps]
    rows = [(n, items) for n, items in rows if items]
    if not rows:
        return [*lines, "None: every step is its paper row as printed."]
    lines += _head("No", "Interpretation")
    lines += [_row([str(n), "; ".join(items)]) for n, items in rows]
    return lines


def _parameters_md(sop: SopDefinition) -> list[str]:
    lines = ["## Parameter (formulir permohonan)", ""]
    if not sop.parameters:
        return [*lines, "Tidak ada parameter."]
    lines += _head("Nama", "Label", "Tipe", "Wajib", "Default / pilihan", "Keterangan")
    for p in sop.parameters:
        # JSON spelling (false, ["443"]) is what a request file holds; str() would give Python's.
        default = "" if p.default is None else json.dumps(p.default, ensure_ascii=False)
        extra = ", ".join(p.choices) if p.choices else default
        required = "ya" if p.required else "tidak"
        lines.append(_row([f"`{p.name}`", p.label, p.type, required, extra, p.description]))
    return lines


def _documents_md(sop: SopDefinition) -> list[str]:
    lines = ["## Dokumen", ""]
    if not sop.documents:
        return [*lines, "Tidak ada dokumen."]
    names = {a.id: a.name for a in sop.actors}
    lines += _head("ID", "Jenis", "Judul", "Templat", "Penandatangan", "Langkah")
    for d in sop.documents:
        signers = ", ".join(names.get(s, s) for s in d.signers)
        made_by = [s.number for s in sop.steps if d.id == s.document or d.id in s.produces]
        steps = ", ".join(map(str, made_by)) or "-"
        lines.append(_row([f"`{d.id}`", d.kind.value, d.title, f"`{d.template}`", signers, steps]))
    return lines


def _automation_md(sop: SopDefinition) -> list[str]:
    lines = ["## Otomasi per langkah", "", *_head("No", "Jenis", "Teknis", "Otomasi")]
    for step in sop.steps:
        technical = "ya" if step.technical or step.automated else "tidak"
        lines.append(_row([str(step.number), step.kind.value, technical, automation_binding(step)]))
    return lines


def render_markdown(sop: SopDefinition) -> str:
    """The whole SOP as a Markdown page."""
    sections = [
        _header_md(sop),
        _procedure_md(sop),
        _table_md(sop),
        _interpretation_md(sop),
        _parameters_md(sop),
        _documents_md(sop),
        _automation_md(sop),
    ]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def render_text(sop: SopDefinition) -> str:
    """The SOP for a terminal: one block per table row instead of a wide table."""
    src = sop.source
    out = [sop.title, "=" * len(sop.title), f"ID: {sop.id} ({sop.group.value})"]
    if src.sop_code:
        out.append(f"Nomor SOP: {src.sop_code}")
    out.append(f"Sumber: {src.title} (dokumen {src.document}, SOP nomor {src.number})")
    out += ["", "Dasar Hukum:"]
    out += [f"  {i}. {' '.join(law.split())}" for i, law in enumerate(sop.legal_basis, 1)]
    out += ["", "Uraian Prosedur:"]
    names = {a.id: a.name for a in sop.actors}
    for step in sop.steps:
        mark = DECIDE if step.kind is StepKind.DECISION else ACT
        out.append(f"  {step.number}. {' '.join(step.text.split()) or '(output only)'}")
        if step.text:
            out.append(f"     {mark} {names.get(step.actor, step.actor)}")
        for label, value in zip(MUTU_BAKU, (step.requires, step.time, step.output), strict=True):
            out.append(f"     {label}: {' '.join(value.split()) or '-'}")
        note = keterangan(sop, step)
        if note:
            out.append(f"     Keterangan: {' '.join(note.split())}")
        out += [f"     Interpretation, {item}" for item in interpretation(sop, step)]
        out.append(f"     Otomasi: {automation_binding(step)}")
    out += ["", f"Total waktu (Mutu Baku): {total_time_text(sop)}", "", "Parameter:"]
    for p in sop.parameters:
        optional = "" if p.required else ", opsional"
        out.append(f"  {p.name} ({p.type}{optional}): {p.label}")
    out += ["", "Dokumen:"]
    out += [f"  {d.id} ({d.kind.value}): {d.title}" for d in sop.documents]
    return "\n".join(out) + "\n"


def coverage_table_md(rows: list[GroupCoverage], total: GroupCoverage) -> list[str]:
    """The coverage table as Markdown lines."""
    lines = _head("Group", "Prosedur", "Langkah teknis", "Langkah otomatis", "Cakupan", numeric=4)
    for r in [*rows, total]:
        counts = [str(r.procedures), str(r.technical), str(r.automated)]
        lines.append(_row([r.group, *counts, format_percent(r.percent)]))
    return lines


def render_index(sops: list[SopDefinition]) -> str:
    """``docs/sops/README.md``: the coverage table and a link to every SOP page."""
    rows, total = coverage(sops)
    lines = [
        "# SOP catalogue",
        "",
        "Generated by `scripts/gen_sop_docs.py` from `sops/`; do not edit by hand.",
        "Each page shows one SOP in its official table form, to check against the paper.",
        "",
        "## Coverage",
        "",
        *coverage_table_md(rows, total),
        "",
        "## Procedures",
        "",
        *_head("ID", "Group", "Nama SOP", "Langkah", "Teknis", "Otomatis", numeric=3),
    ]
    for sop in sops:
        st = SopStats.of(sop)
        lines.append(
            _row(
                [
                    f"[{sop.id}]({sop.id}.md)",
                    sop.group.value,
                    sop.title,
                    str(st.steps),
                    str(st.technical),
                    str(st.automated),
                ]
            )
        )
    return "\n".join(lines) + "\n"
