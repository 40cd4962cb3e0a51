"""`sop catalogue`: validate, list, show and measure the SOP definitions under ``sops/``."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

from sop_runner.cli.exitcodes import ExitCode
from sop_runner.core.catalogue.coverage import SopStats, coverage, format_percent
from sop_runner.core.catalogue.loader import LoadResult, load_catalogue
from sop_runner.core.catalogue.model import Group, SopDefinition
from sop_runner.core.catalogue.render import (
    catalogue_order,
    render_markdown,
    render_text,
)
from sop_runner.core.catalogue.validate import validate_catalogue
from sop_runner.errors import InvalidInputError, NotFoundError


def default_catalogue_dir() -> Path:
    """``sops/`` of the clone this package runs from (``SOP_ROOT`` wins, as for the lab)."""
    env = os.environ.get("SOP_ROOT")
    root = Path(env).resolve() if env else Path(__file__).resolve().parents[2]
    return root / "sops"


def register(sub: Any) -> None:
    """Add ``catalogue`` and its sub-commands to the ``sop`` parser."""
    parser = sub.add_parser("catalogue", help="validate, list, show and measure the SOP catalogue")
    # --dir belongs to every action so that it can follow the action's name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir", type=Path, default=None,
        help="catalogue directory (default: sops/ of this clone); playbooks and roles are "
             "looked up in its parent",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, parents=[common], help=help_text)
        return parser

    action("validate", "check every definition; exit 3 on problems").set_defaults(func=_validate)

    listing = action("list", "one line per SOP with its step counts")
    listing.add_argument("--group", choices=[g.value for g in Group], help="only this group")
    listing.set_defaults(func=_list)

    show = action("show", "an SOP in its official table form")
    show.add_argument("id", help="SOP id, e.g. wonosobo-57")
    show.add_argument("--format", choices=("md", "text"), default="md")
    show.set_defaults(func=_show)

    action("coverage", "automated share of the technical steps, per group").set_defaults(
        func=_coverage,
    )


def _catalogue_dir(args: argparse.Namespace) -> Path:
    directory: Path = args.dir or default_catalogue_dir()
    if not directory.is_dir():
        msg = f"catalogue directory {directory} does not exist"
        hint = "pass --dir with the folder that holds roles.yml and the SOPs"
        raise NotFoundError(msg, hint=hint)
    if not (directory / "roles.yml").is_file():
        msg = f"{directory} has no roles.yml"
        hint = "a catalogue directory needs roles.yml next to the SOP files"
        raise InvalidInputError(msg, hint=hint)
    return directory


def _load(args: argparse.Namespace) -> LoadResult:
    """Load without cross-checks; definitions that fail to load are reported on stderr."""
    result = load_catalogue(_catalogue_dir(args))
    if result.problems:
        print(
            f"warning: {len(result.problems)} problem(s) in the catalogue; "
            "run `sop catalogue validate`",
            file=sys.stderr,
        )
    return result


def _validate(args: argparse.Namespace) -> int:
    directory = _catalogue_dir(args)
    result = validate_catalogue(directory, directory.resolve().parent)
    count = len(result.sops)
    if args.json:
        problems = [{"file": p.file, "field": p.field, "reason": p.reason} for p in result.problems]
        report = {"definitions": count, "problems": problems}
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for problem in result.problems:
            print(problem)
        print(f"{count} definitions, {len(result.problems)} problems")
    return int(ExitCode.INVALID_INPUT if result.problems else ExitCode.OK)


def _list(args: argparse.Namespace) -> int:
    sops = catalogue_order(_load(args).sops.values())
    if args.group:
        sops = [s for s in sops if s.group.value == args.group]
    rows = [_list_row(s) for s in sops]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return int(ExitCode.OK)
    head = {"id": "ID", "group": "GROUP", "title": "TITLE", "steps": "STEPS",
            "technical": "TECHNICAL", "automated": "AUTOMATED"}
    print(_table([head, *rows]))
    return int(ExitCode.OK)


def _list_row(sop: SopDefinition) -> dict[str, Any]:
    stats = SopStats.of(sop)
    return {
        "id": sop.id, "group": sop.group.value, "title": sop.title,
        "steps": stats.steps, "technical": stats.technical, "automated": stats.automated,
    }


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[dict[str, Any]]) -> str:
    """Left-aligned columns; the title column is cut so a line stays readable."""
    cells = [[_clip(str(v)) for v in row.values()] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(line.rstrip() for line in lines)


def _show(args: argparse.Namespace) -> int:
    sops = _load(args).sops
    sop = sops.get(args.id)
    if sop is None:
        close = difflib.get_close_matches(args.id, list(sops), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see `sop catalogue list`"
        msg = f"no SOP with id {args.id!r}"
        raise NotFoundError(msg, hint=hint)
    if args.json:
        print(json.dumps(sop.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(render_markdown(sop) if args.format == "md" else render_text(sop), end="")
    return int(ExitCode.OK)


def _coverage(args: argparse.Namespace) -> int:
    rows, total = coverage(_load(args).sops.values())
    if args.json:
        report = {"groups": [r.as_dict() for r in rows], "total": total.as_dict()}
        print(json.dumps(report, indent=2))
        return int(ExitCode.OK)
    table: list[dict[str, Any]] = [{
        "group": "GROUP", "procedures": "PROCEDURES", "technical": "TECHNICAL",
        "automated": "AUTOMATED", "percent": "COVERAGE",
    }]
    table += [
        {"group": r.group, "procedures": r.procedures, "technical": r.technical,
         "automated": r.automated, "percent": format_percent(r.percent)}
        for r in [*rows, total]
    ]
    print(_table(table))
    return int(ExitCode.OK)
