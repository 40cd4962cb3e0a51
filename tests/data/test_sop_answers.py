"""The run's signed answers given to an apply as ``sop_answers`` (SOP 32's backup decision)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sop_runner.core.run.state import Gate, RunState
from sop_runner.service import runctx


def _gate(step: int, action: str, minutes: int) -> Gate:
    at = datetime(2026, 11, 25, tzinfo=UTC) + timedelta(minutes=minutes)
    return Gate(step=step, user="hendra.kabid", role="kabid", action=action, plan_hash="-", comment="", at=at)


def test_answers_are_the_latest_signed_answer_per_step() -> None:
    state = RunState(run_id="r", sop_id="wonosobo-32", sop_digest="", requester="agus.dinkes", params={},
                     created=datetime.now(UTC))
    state.gates = [_gate(3, "approve", 1), _gate(5, "ya", 2), _gate(3, "reject", 3), _gate(3, "approve", 4),
                   _gate(5, "tidak", 5)]
    assert runctx.answers(state) == {"3": "ya", "5": "tidak"}


def test_no_gate_no_answer() -> None:
    state = RunState(run_id="r", sop_id="wonosobo-32", sop_digest="", requester="agus.dinkes", params={},
                     created=datetime.now(UTC))
    assert runctx.answers(state) == {}
