"""The committer's conflict planner (conflict_commit.py): what counts as missed, what open
conflicts block, when a resolution is admitted. Pure: cursors and events, no database."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from lifeline_events import OpenConflict, Room, parse_new_event
from lifeline_ingest.conflict_commit import ConflictPlanner, ConflictRules
from lifeline_ingest.conflicts import changes_since
from lifeline_ingest.domain import SessionCursor, plan_append
from lifeline_ingest.errors import AppendRejectedError

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _planner(**rules: Any) -> ConflictPlanner:
    ids = itertools.count(1)
    return ConflictPlanner(ConflictRules(**rules), lambda: uuid.UUID(int=next(ids)))


def _turn(turn_id: int, **facts: Any):
    acts = [{"op": "confirm_fact", "key": k, "value": v} for k, v in facts.items()]
    return parse_new_event({"event_type": "turn.recorded", "turn_id": turn_id, "person_id": "p1",
                            "payload": {"role": "user", "text": "x", "acts": acts}},
                           session_id="s", tenant_id="t")


def _request(events, expected=None, strategy=None) -> SimpleNamespace:
    return SimpleNamespace(events=events, expected_seq=expected, on_conflict=strategy, participant_id=None,
                           traceparent=None, lock_token=None, stale=None)


def test_events_planned_earlier_in_the_same_group_count_as_missed() -> None:
    """A batch stale only against its own commit group is merged against those rows: another
    key passes, the key an earlier request of the group wrote is a conflict naming its value."""
    planner, cursor, rows = _planner(), SessionCursor("t", "s", 0), []
    first = planner.plan(_request([_turn(1, hp=7)], expected=0), cursor, None, rows, NOW)
    assert first is None  # not stale: planned as usual
    planned, _ = plan_append(cursor, [_turn(1, hp=7)], expected_seq=0, now=NOW, new_id=uuid.uuid4)
    rows.extend(planned)
    merged = planner.plan(_request([_turn(2, gold=1)], 0, "automatic_merge"), cursor, [], rows, NOW)
    assert merged is not None
    assert [r.seq for r in merged[0]] == [2]
    with pytest.raises(AppendRejectedError) as refused:
        planner.plan(_request([_turn(3, hp=1)], 0, "automatic_merge"), cursor, [], rows, NOW)
    assert refused.value.extra["conflicts"] == [{"scope": "fact:hp", "current": 7}]


def test_an_open_conflict_blocks_its_scopes_only_and_not_its_own_resolution() -> None:
    """While a conflict is open, a write to one of its scopes is refused naming it, other scopes
    pass, and the resolution of that very conflict is admitted."""
    room = Room(open_conflicts=(OpenConflict(conflict_id="c-1", strategy="user_choice",
                                             participant_id="p1", scopes=("fact:hp",), seq=3),))
    cursor = SessionCursor("t", "s", 3, room=room)
    planner = _planner()
    with pytest.raises(AppendRejectedError) as blocked:
        planner.plan(_request([_turn(9, hp=1)]), cursor, None, [], NOW)
    assert blocked.value.title == "Open conflict" and blocked.value.extra["conflict_id"] == "c-1"
    assert planner.plan(_request([_turn(9, gold=1)]), cursor, None, [], NOW) is None
    resolution = parse_new_event({"event_type": "session.conflict.resolved", "payload": {
        "conflict_id": "c-1", "choice": "ours", "resolved_by": "p1"}}, session_id="s", tenant_id="t")
    assert planner.plan(_request([resolution, _turn(9, hp=1)]), cursor, None, [], NOW) is None
    other = resolution.model_copy(update={"payload": resolution.payload.model_copy(
        update={"conflict_id": "c-2"})})
    with pytest.raises(AppendRejectedError, match="not open"):
        planner.plan(_request([other]), cursor, None, [], NOW)


def test_reject_and_too_far_behind() -> None:
    """Under reject the planner stays out (the domain's 409); beyond the window every strategy
    is refused as too far behind."""
    cursor = SessionCursor("t", "s", 20)
    planner = _planner(window=5)
    assert planner.plan(_request([_turn(1, hp=1)], 10), cursor, [], [], NOW) is None
    with pytest.raises(AppendRejectedError, match="more than 5 events"):
        planner.plan(_request([_turn(1, hp=1)], 10, "latest_wins"), cursor, [], [], NOW)


def test_a_conflict_that_cannot_be_recorded_is_refused_not_crashed() -> None:
    """A parked batch whose scope no conflict record can name (a key with a line break) is a
    409 naming the scope, not a server error."""
    cursor, planner = SessionCursor("t", "s", 0), _planner()
    planned, _ = plan_append(cursor, [_turn(1, **{"a\nb": 1})], expected_seq=0, now=NOW, new_id=uuid.uuid4)
    assert changes_since(planned, {}).changes  # the logged side changed that key
    with pytest.raises(AppendRejectedError) as refused:
        planner.plan(_request([_turn(2, **{"a\nb": 2})], 0, "user_choice"), cursor, list(planned), [], NOW)
    assert refused.value.title == "Cannot park"
    assert refused.value.extra["conflicts"] == [{"scope": "fact:a\nb", "current": 1}]
