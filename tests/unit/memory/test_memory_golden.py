"""Golden: a recorded three-session log folds to exactly the committed profile and bias bytes.

Regenerate (after a deliberate algorithm change) with ``UPDATE_GOLDEN=1``; review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from lifeline_events import Event
from lifeline_memory.bias import render_bias
from lifeline_memory.consolidation import profile_of_logs
from lifeline_memory.policy import Policy

GOLDEN = Path(__file__).parent / "golden"


def _pretty(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def test_coach_person_golden() -> None:
    """The coach log's profile and bias are byte-identical to the golden files."""
    logs: dict[str, list[Event]] = {}
    for line in (GOLDEN / "coach-person.events.jsonl").read_bytes().splitlines():
        event = Event.from_json(line)
        logs.setdefault(event.session_id, []).append(event)
    policy = Policy(labels={"price_objection_missed": "handling price objections"})
    profile = profile_of_logs("t-1", "p-7", logs, policy)
    assert profile is not None
    bias = render_bias(profile)
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / "profile.json").write_bytes(_pretty(profile))
        (GOLDEN / "bias.json").write_bytes(_pretty(bias))
    assert _pretty(profile) == (GOLDEN / "profile.json").read_bytes()
    assert _pretty(bias) == (GOLDEN / "bias.json").read_bytes()
