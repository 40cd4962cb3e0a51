"""Hostile input through every CLI verb: refused with the field named, or stored inert; nothing runs.

Property-based (Hypothesis): Jinja, HTML, control characters, huge strings and non-numbers
go into request parameters, comments, notes, reasons, run ids, user names and plan hashes.
The playbook executor is replaced by a tripwire: no hostile input may reach a plan or apply.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sop_runner.cli.main import main
from sop_runner.config import load_config
from sop_runner.service import planning
from sop_runner.service.runs import RunService

NASTY = [
    "{{ lookup('pipe', 'id > /tmp/sop-hostile-marker') }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "<script>alert(1)</script>",
    '<link rel="attachment" href="file:///etc/shadow">',
    "[klik](javascript:alert(1))",
    "\x00\x01\x1b[31m\u202e",
    "NaN", "inf", "-1e999",
    "x" * 200_000,
    "../../../../etc/passwd",
    "'; DROP TABLE events; --",
]
hostile = st.one_of(st.sampled_from(NASTY), st.text(max_size=300))
EXIT_REFUSED = {2, 3, 4, 5, 6}  # usage, invalid input, forbidden, conflict, not found

_SETTINGS = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record (and refuse) any attempt to run a playbook."""
    calls: list[Any] = []

    def refuse(**kwargs: Any) -> Any:
        calls.append(kwargs)
        msg = "a playbook was started by hostile input"
        raise AssertionError(msg)

    monkeypatch.setattr(planning, "execute", refuse)
    return calls


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses bad usage with exit 2
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sqlite_config(tmp_path: Path, make_runner_config: Any) -> Path:
    return make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}",
                              Path(__file__).resolve().parents[1] / "fixtures" / "sops")


@_SETTINGS
@given(value=hostile)
def test_hostile_request_parameter_is_refused_or_stored_inert(
    value: str, sqlite_config: Path, tmp_path: Path, tripwire: list[Any]
) -> None:
    c = ["--config", str(sqlite_config)]
    code, out, err = _run(["request", "test-file-change", "--as", "agus.dinkes", "--json", "-p", "skpd=dinkes",
                           "-p", f"path={tmp_path / 'x.txt'}", "-p", f"content={value}", *c])
    if code == 0:
        run_id = json.loads(out)["run_id"]
        stored = RunService(load_config(str(sqlite_config))).state(run_id).params["content"]
        assert stored == value, "a parameter is stored exactly as given, never rendered"
    else:
        assert code == 3, err
        assert "content" in err, f"the refusal names the field: {err}"
    assert tripwire == []
    assert not Path("/tmp/sop-hostile-marker").exists()


@_SETTINGS
@given(value=hostile, verb=st.sampled_from(["show", "plan", "apply", "resume", "docs", "done", "cancel",
                                            "approve", "reject", "decide"]))
def test_hostile_run_id_and_user_are_refused(value: str, verb: str, sqlite_config: Path, tripwire: list[Any]) -> None:
    c = ["--config", str(sqlite_config)]
    extra = {"cancel": ["-m", "x"], "decide": ["ya", "-m", "x"], "reject": ["-m", "x"]}.get(verb, [])
    code, _, err = _run([verb, value, *extra, "--as", "budi.teknis", *c])
    assert code in EXIT_REFUSED, (code, err)
    code, _, err = _run(["show", value, "--as", value, *c])
    assert code in EXIT_REFUSED, (code, err)
    assert tripwire == []


@_SETTINGS
@given(text=hostile)
def test_hostile_comments_are_refused_or_stored_inert(
    text: str, sqlite_config: Path, tmp_path: Path, tripwire: list[Any]
) -> None:
    svc = RunService(load_config(str(sqlite_config)))
    run_id = svc.request("test-file-change", "agus.dinkes",
                         {"skpd": "dinkes", "path": str(tmp_path / "y.txt"), "content": "a"}).run_id
    c = ["--config", str(sqlite_config)]
    code, _, err = _run(["decide", run_id, "tidak", "--as", "hendra.kabid", "-m", text, *c])
    state = RunService(load_config(str(sqlite_config))).state(run_id)
    if code == 0:
        assert state.gates[-1].comment == text, "the reason is stored exactly, never rendered"
        code, _, err = _run(["done", run_id, "--as", "rina.kasi", "-m", text, *c])
        assert code == 0, err
        letter = RunService(load_config(str(sqlite_config))).state(run_id).documents["surat"]["files"]["html"]
        html = Path(letter).read_text(encoding="utf-8")
        assert "<script" not in html and "javascript:" not in html and "<link" not in html
    else:  # refused naming the field (or argparse's usage error for a text that looks like an option)
        assert code == 2 or (code == 3 and "reason" in err), (code, err)
    code, _, err = _run(["approve", run_id, "--as", "rina.kasi", "-m", "x", "--plan", text, *c])
    assert code in EXIT_REFUSED, (code, err)
    assert tripwire == []
