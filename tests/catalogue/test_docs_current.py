"""docs/sops must be what scripts/gen_sop_docs.py would write from sops/ now."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sop_runner.core.catalogue.loader import definition_files

REPO = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    # scripts/ is not a package; load the script itself so the test and the tool cannot drift.
    spec = importlib.util.spec_from_file_location("gen_sop_docs", REPO / "scripts" / "gen_sop_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_sops_is_current() -> None:
    gen = _generator()
    stale = gen.stale_pages(gen.expected_pages())
    shown = ", ".join(stale[:8]) + (f" and {len(stale) - 8} more" if len(stale) > 8 else "")
    assert not stale, f"docs/sops is out of date ({shown}): run `{gen.COMMAND}` and commit docs/sops"


def test_every_sop_has_a_page() -> None:
    gen = _generator()
    pages = gen.expected_pages()
    assert "README.md" in pages
    assert len(pages) == len(definition_files(REPO / "sops")) + 1  # one page each, plus README
