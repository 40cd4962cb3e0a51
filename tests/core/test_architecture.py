"""The folder tree is the architecture: dependencies point in, no cycles, small files.

Walks the imports of every module of ``sop_runner`` (module-level ones, and those inside
functions too; ``if TYPE_CHECKING:`` imports excluded since they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "sop_runner"
MAX_LINES = 400
# Known debt, named so it cannot grow silently: each entry is a file over the limit today.
# The list may only shrink (the test fails if a listed file is back under the limit).
OVERSIZE = {"lab/hypervisor.py"}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sop_runner"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sop_runner"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PKG.rglob("*.py")}
    return {name: {i for i in _imports(path) if i in modules and i != name} for name, path in modules.items()}


def test_core_depends_on_nothing_outside_it() -> None:
    outer = ("sop_runner.service", "sop_runner.adapters", "sop_runner.cli", "sop_runner.lab", "sop_runner.config")
    bad = {m: sorted(i for i in deps if i.startswith(outer)) for m, deps in _graph().items()
           if m.startswith("sop_runner.core")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_errors_do_not_reach_the_cli() -> None:
    assert not any(i.startswith("sop_runner.cli") for i in _graph()["sop_runner.errors"])


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # A package importing its own submodule through __init__ is not a cycle of concerns.
    real = [c for c in cycles if not all(n.startswith(c[0]) or c[0].startswith(n) for n in c)]
    assert real == []


def test_no_product_file_over_the_limit() -> None:
    sizes = {str(p.relative_to(PKG)): len(p.read_text(encoding="utf-8").splitlines()) for p in PKG.rglob("*.py")}
    over = {name for name, n in sizes.items() if n > MAX_LINES}
    assert over <= OVERSIZE, f"over {MAX_LINES} lines: {sorted(over - OVERSIZE)}"
    assert over >= OVERSIZE, f"back under the limit, remove from OVERSIZE: {sorted(OVERSIZE - over)}"
