#!/usr/bin/env python3
"""Write ``docs/sops/<id>.md`` for every SOP and ``docs/sops/README.md`` (index and coverage).

Run it after changing anything under ``sops/``; ``tests/catalogue/test_docs_current.py`` fails
until the pages match. Pages of SOPs that no longer exist are removed. Output depends only on
the definitions (no dates), so regenerating an unchanged catalogue changes nothing.

Usage: .venv/bin/python scripts/gen_sop_docs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.render import catalogue_order, render_index, render_markdown

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "sops"
DOCS = ROOT / "docs" / "sops"
COMMAND = ".venv/bin/python scripts/gen_sop_docs.py"


class CatalogueBrokenError(ValueError):
    """A definition does not load; pages of a half-loaded catalogue would silently drop it."""


def expected_pages(catalogue_dir: Path = CATALOGUE) -> dict[str, str]:
    """File name under ``docs/sops`` -> content, for the catalogue as it is now.

    Raises:
        CatalogueBrokenError: listing the problems, when any definition does not load.
    """
    result = load_catalogue(catalogue_dir)
    if result.problems:
        lines = "\n".join(f"  {p}" for p in result.problems)
        msg = f"the catalogue has problems; fix them first (sop catalogue validate):\n{lines}"
        raise CatalogueBrokenError(msg)
    sops = catalogue_order(result.sops.values())
    pages = {f"{sop.id}.md": render_markdown(sop) for sop in sops}
    pages["README.md"] = render_index(sops)
    return pages


def stale_pages(pages: dict[str, str], docs_dir: Path = DOCS) -> list[str]:
    """Names of pages on disk that are missing, different, or no longer generated."""
    on_disk = {p.name for p in docs_dir.glob("*.md")} if docs_dir.is_dir() else set()
    changed = [
        name for name, text in pages.items()
        if name not in on_disk or (docs_dir / name).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + sorted(on_disk - set(pages)))


def write_pages(pages: dict[str, str], docs_dir: Path = DOCS) -> list[str]:
    """Bring ``docs_dir`` in line with ``pages``; return what was written or removed."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    touched = stale_pages(pages, docs_dir)
    for name in touched:
        path = docs_dir / name
        if name in pages:
            path.write_text(pages[name], encoding="utf-8")
        else:
            path.unlink()
    return touched


def main(argv: list[str] | None = None) -> int:
    """Generate the pages, or with ``--check`` only report which are out of date."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[1])
    parser.add_argument("--check", action="store_true", help="exit 1 if any page is out of date")
    args = parser.parse_args(argv)
    try:
        pages = expected_pages()
    except CatalogueBrokenError as exc:
        print(exc, file=sys.stderr)
        return 3
    if args.check:
        stale = stale_pages(pages)
        for name in stale:
            print(f"out of date: docs/sops/{name}")
        if stale:
            print(f"fix: run {COMMAND}")
        return 1 if stale else 0
    touched = write_pages(pages)
    print(f"{len(pages)} pages in docs/sops, {len(touched)} written or removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
