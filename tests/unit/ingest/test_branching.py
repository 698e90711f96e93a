"""A branch's id and how a parent's event reads inside it (branching.py, pure)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from lifeline_events import Event
from lifeline_ingest.branching import (
    BranchIdError,
    branch_id,
    branched_event_id,
    inherited_event_id,
    inherited_room,
    nominal_writer,
    rescope,
)


def test_branch_id_is_given_or_derived_and_always_a_session_id() -> None:
    """`<parent>.<name>` unless a session_id is given; an unusable id names the field to fix."""
    assert branch_id("s-1", "what-if", None) == "s-1.what-if"
    assert branch_id("s-1", "any name at all", "b-2") == "b-2"
    with pytest.raises(BranchIdError) as spaced:
        branch_id("s-1", "has space", None)
    assert spaced.value.errors[0]["field"] == "name"
    with pytest.raises(BranchIdError) as long:
        branch_id("s" * 120, "long-name", None)
    assert long.value.errors[0]["field"] == "name"
    with pytest.raises(BranchIdError) as same:
        branch_id("s-1", "x", "s-1")
    assert same.value.errors[0]["field"] == "session_id"


def test_inherited_ids_are_stable_and_distinct_per_branch_and_tenant() -> None:
    """The same parent event reads with one id per branch, never the parent's; the branched
    event's id differs between tenants using the same branch id."""
    source = uuid.uuid4()
    assert inherited_event_id("b", source) == inherited_event_id("b", str(source))
    assert len({source, inherited_event_id("b", source), inherited_event_id("c", source)}) == 3
    assert branched_event_id("t1", "b") == branched_event_id("t1", "b") != branched_event_id("t2", "b")


def test_rescope_changes_only_the_session_and_the_event_id() -> None:
    """A re-scoped envelope is still a valid event: same seq, payload and times, the branch's scope."""
    event = Event.model_validate({
        "event_id": str(uuid.uuid4()), "event_type": "turn.recorded", "tenant_id": "t", "session_id": "p",
        "person_id": "p-1", "turn_id": 3, "seq": 3, "occurred_at": "2026-01-01T00:00:00Z",
        "recorded_at": "2026-01-01T00:00:01Z", "payload": {"role": "user", "text": "hi"}})
    moved = Event.from_json(rescope(event.to_json_bytes().decode(), "p.alt"))
    assert moved.session_id == "p.alt" and moved.event_id == inherited_event_id("p.alt", event.event_id)
    unchanged = {"event_id", "session_id"}
    assert orjson.loads(moved.to_json_bytes()) | {k: None for k in unchanged} \
        == orjson.loads(event.to_json_bytes()) | {k: None for k in unchanged}


def _joined(seq: int, pid: str, role: str) -> str:
    return Event.model_validate({
        "event_id": str(uuid.uuid4()), "event_type": "participant.joined", "tenant_id": "t",
        "session_id": "p", "seq": seq, "occurred_at": "2026-01-01T00:00:00Z",
        "recorded_at": "2026-01-01T00:00:00Z", "payload": {"participant_id": pid, "role": role}}
    ).to_json_bytes().decode()


def test_the_inherited_room_is_the_fold_and_an_owner_appends_the_branch_point() -> None:
    """No collaboration events: no room and no writer; else the fold's room, written as an owner."""
    assert inherited_room([]) is None and nominal_writer(None) is None
    room = inherited_room([_joined(2, "v", "viewer"), _joined(3, "zed", "owner"), _joined(4, "ed", "editor")])
    assert room is not None and sorted(room.participants) == ["ed", "v", "zed"]
    assert nominal_writer(room) == "zed"
