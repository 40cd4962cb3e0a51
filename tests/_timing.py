"""Where the test time goes: seconds and tests per folder, and the slowest tests.

Printed at the end of every pytest run (issue 24: the suite has a budget per domain, and a
budget nobody sees is not kept). A test's time is its setup, call and teardown together,
because most of a lab test's cost is in its fixtures' setup. Folders are the first level
under ``tests/`` (``tests/network``), which is how docs/testing.md keeps the budgets.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

import pytest

SLOWEST = 20

_seconds: defaultdict[str, float] = defaultdict(float)


def folder_of(nodeid: str) -> str:
    """``tests/<first folder>`` of a test id; ``tests`` for a file directly in it."""
    parts = PurePosixPath(nodeid.split("::", 1)[0]).parts
    if "tests" in parts:
        parts = parts[parts.index("tests") + 1 :]
    return f"tests/{parts[0]}" if len(parts) > 1 else "tests"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's duration to its test (also called on the controller under xdist)."""
    _seconds[report.nodeid] += report.duration


def per_folder(seconds: dict[str, float]) -> list[tuple[str, float, int]]:
    """(folder, seconds, number of tests), the most expensive folder first."""
    totals: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, int] = defaultdict(int)
    for nodeid, spent in seconds.items():
        folder = folder_of(nodeid)
        totals[folder] += spent
        counts[folder] += 1
    return sorted(((f, totals[f], counts[f]) for f in totals), key=lambda row: (-row[1], row[0]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The two tables, after pytest's own summary."""
    if not _seconds:
        return
    write = terminalreporter.write_line
    terminalreporter.section("time per folder (setup + call + teardown)")
    rows = per_folder(_seconds)
    width = max(len(folder) for folder, _, _ in rows)
    for folder, spent, count in rows:
        write(f"{folder:<{width}}  {spent:8.1f} s  {count:4d} tests")
    write(f"{'total':<{width}}  {sum(_seconds.values()):8.1f} s  {len(_seconds):4d} tests")
    slowest = sorted(_seconds.items(), key=lambda item: -item[1])[:SLOWEST]
    terminalreporter.section(f"{len(slowest)} slowest tests (setup + call + teardown)")
    for nodeid, spent in slowest:
        write(f"{spent:8.1f} s  {nodeid}")
