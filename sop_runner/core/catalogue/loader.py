"""Load SOP definitions from YAML files, turning every problem into a located error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sop_runner.core.catalogue.model import SopDefinition


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where, which field, and why."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field or '(file)'}: {self.reason}"


@dataclass(slots=True)
class LoadResult:
    """Definitions that loaded, and the problems of those that did not."""

    sops: dict[str, SopDefinition] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _loc(loc: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic location like ``steps[3].time`` (step *number*, not index, when known)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                number = node[item].get("number")
                if number is not None:
                    label = f"[{item}](number {number})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def load_file(path: Path, root: Path | None = None) -> tuple[SopDefinition | None, list[Problem]]:
    """Load one definition file."""
    name = str(path.relative_to(root)) if root else str(path)
    try:
        # The C loader is ~10x faster; the catalogue is loaded on every command.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        return None, [Problem(name, "", f"not valid YAML: {exc}")]
    if not isinstance(data, dict):
        return None, [Problem(name, "", "the file must hold one mapping (an SOP definition)")]
    try:
        return SopDefinition.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            reason = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                reason = "unknown field: remove it or check its spelling"
            elif err["type"] == "missing":
                reason = "required field is missing"
            problems.append(Problem(name, _loc(err["loc"], data), reason))
        return None, problems


def definition_files(catalogue_dir: Path) -> list[Path]:
    """Every SOP definition file (``roles.yml`` and files starting with '_' are not SOPs)."""
    return sorted(p for p in catalogue_dir.rglob("*.yml") if p.name != "roles.yml" and not p.name.startswith("_"))


def load_catalogue(catalogue_dir: Path) -> LoadResult:
    """Load every definition below ``catalogue_dir``; duplicates are problems."""
    result = LoadResult()
    for path in definition_files(catalogue_dir):
        sop, problems = load_file(path, catalogue_dir)
        result.problems.extend(problems)
        if sop is None:
            continue
        rel = str(path.relative_to(catalogue_dir))
        if sop.id in result.sops:
            other = result.files[sop.id].relative_to(catalogue_dir)
            result.problems.append(Problem(rel, "id", f"{sop.id!r} is already used by {other}"))
            continue
        result.sops[sop.id] = sop
        result.files[sop.id] = path
    return result


def load_roles(catalogue_dir: Path) -> dict[str, str]:
    """The runner roles (``sops/roles.yml``): role id -> description."""
    data = yaml.safe_load((catalogue_dir / "roles.yml").read_text(encoding="utf-8"))
    roles = data.get("roles", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in roles.items()}
