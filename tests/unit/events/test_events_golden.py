"""Golden logs: recorded event histories replayed through the current fold.

Like temporalio/samples-python's ``replay/replayer.py``: the history files are frozen
records (old schema versions included) and the expected state is checked in beside
them. A fold change that alters the result fails here; if the change is intended,
regenerate the expected state with ``LIFELINE_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from lifeline_events import Event, SessionState, StateLimits, canonical_json, content_hash, fold

GOLDEN = Path(__file__).parent / "golden"
LIMITS = StateLimits(recent_turns=3, summary_budget_tokens=48)
"""Small windows so a short log exercises S1 eviction and S2 compression."""

LOGS = sorted(p.name.removesuffix(".events.jsonl") for p in GOLDEN.glob("*.events.jsonl"))


def _replay(name: str) -> SessionState:
    lines = (GOLDEN / f"{name}.events.jsonl").read_bytes().splitlines()
    events = [Event.from_json(line) for line in lines if line.strip()]
    return fold(events, SessionState(limits=LIMITS))


def _expected_path(name: str) -> Path:
    return GOLDEN / f"{name}.state.json"


@pytest.mark.parametrize("name", LOGS)
def test_golden_log_replays_to_checked_in_state(name: str) -> None:
    """Replaying the recorded log gives byte-identical canonical state JSON."""
    state = _replay(name)
    actual = canonical_json(state)
    expected_path = _expected_path(name)
    if os.environ.get("LIFELINE_UPDATE_GOLDEN") == "1":
        expected_path.write_bytes(actual + b"\n")
    assert actual == expected_path.read_bytes().rstrip(b"\n")


def test_there_is_a_golden_log() -> None:
    """The golden directory is not silently empty."""
    assert "clinic-session" in LOGS


def test_clinic_session_story_holds() -> None:
    """The clinic log's meaning: restore rolled back Tuesday, Wednesday was booked."""
    state = _replay("clinic-session")
    assert state.finished and state.finish_reason == "booked"
    assert state.seq == 16 and state.restored_from == "snap-8"
    assert state.confirmed_facts["appointment"] == {"day": "Wednesday", "time": "11:00"}
    assert "budget_gbp" not in state.confirmed_facts and "budget_gbp" in state.retracted_facts
    assert [p.id for p in state.pins] == ["pain"]
    assert state.completed_objectives == ("budget", "book") and state.objectives == ()
    assert state.recent_turns[-1].text == "Wednesday 11:00 it is."
    assert state.summary and len(state.summary) <= 48 * 4


def test_golden_expected_state_is_a_valid_state() -> None:
    """The checked-in expected state loads as a SessionState with the same hash."""
    for name in LOGS:
        raw = orjson.loads(_expected_path(name).read_bytes())
        assert content_hash(SessionState.model_validate(raw)) == content_hash(raw)
