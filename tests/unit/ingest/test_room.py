"""The room's rules (ingest/room.py) and their enforcement by the append planner: pure."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import (
    ConfirmFactAct,
    ConflictResolved,
    NewEvent,
    Room,
    SessionState,
    fold,
    parse_new_event,
)
from lifeline_ingest.domain import SessionCursor, plan_append
from lifeline_ingest.errors import RoomConflictError, RoomForbiddenError, ScopeLockedError
from lifeline_ingest.room import Acquire, Join, Leave, Release, Renew, RoomCommand
from lifeline_ingest.room_guard import touched
from lifeline_servicekit.problems import lifeline_problem

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _ids():
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def run(cursor: SessionCursor, command: RoomCommand, now: datetime = NOW) -> list[str]:
    rows, _ = plan_append(cursor, [], expected_seq=None, now=now, new_id=_ids(), command=command)
    return [r.event_type for r in rows]


def room_of(*members: tuple[str, str]) -> SessionCursor:
    cursor = SessionCursor("d", "s", 0)
    for pid, role in members:
        run(cursor, Join(pid, role, actor=members[0][0]))
    return cursor


def turn(t: int, *acts: dict, person: str | None = "p-1"):
    return parse_new_event({"event_type": "turn.recorded", "turn_id": t, "person_id": person,
                            "payload": {"role": "user", "text": "hi", "acts": list(acts)}},
                           session_id="s", tenant_id="d")


def fact(key: str) -> dict:
    return {"op": "confirm_fact", "key": key, "value": 1}


def append(cursor: SessionCursor, *events, writer: str | None = None, token: int | None = None,
           now: datetime = NOW) -> list[int]:
    rows, _ = plan_append(cursor, list(events), expected_seq=None, now=now, new_id=_ids(),
                          writer=writer, lock_token=token)
    return [r.seq for r in rows]


def test_the_first_participant_is_the_owner_and_joins_are_events_folded_into_the_room():
    """A room starts with an owner; a join appends participant.joined and the cursor's room has it."""
    cursor = SessionCursor("d", "s", 0)
    with pytest.raises(RoomConflictError, match="joins as owner"):
        run(cursor, Join("dm", "editor"))
    assert run(cursor, Join("dm", "owner")) == ["participant.joined"]
    assert run(cursor, Join("p1", "editor")) == ["participant.joined"]
    assert cursor.room is not None and cursor.room_changed
    assert {k: v.role for k, v in cursor.room.participants.items()} == {"dm": "owner", "p1": "editor"}
    assert run(cursor, Join("p1", "editor")) == []  # a retried join changes nothing


def test_roles_change_and_others_leave_only_by_an_owner_and_a_room_keeps_an_owner():
    """403 for a non-owner changing a role or removing someone; 409 when the last owner would go."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"), ("p2", "viewer"))
    with pytest.raises(RoomForbiddenError):
        run(cursor, Join("p2", "editor", actor="p1"))
    with pytest.raises(RoomForbiddenError):
        run(cursor, Join("p3", "owner", actor="p1"))
    with pytest.raises(RoomForbiddenError):
        run(cursor, Leave("p2", actor="p1"))
    assert run(cursor, Join("p2", "editor", actor="dm")) == ["participant.joined"]
    with pytest.raises(RoomConflictError, match="last owner"):
        run(cursor, Leave("dm"))
    assert run(cursor, Leave("p1")) == ["participant.left"]  # anyone may leave by itself
    assert run(cursor, Leave("p2", admin=True)) == ["participant.left"]  # an admin key acts as owner
    assert run(cursor, Leave("dm")) == ["participant.left"]  # the last one out may be the owner
    assert cursor.room is not None and cursor.room.participants == {}


def test_a_full_room_refuses_a_new_participant_but_not_a_role_change():
    """At max_participants a new join is a 409 naming the limit; members may still change role."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    with pytest.raises(RoomConflictError) as exc:
        run(cursor, Join("p2", "editor", max_participants=2))
    assert exc.value.extra["limit"] == 2
    assert run(cursor, Join("p1", "viewer", actor="dm", max_participants=2)) == ["participant.joined"]


def test_tokens_strictly_increase_and_an_expired_lease_is_released_before_takeover():
    """Acquire → token n+1; the holder asking again renews (same token); after expiry another
    participant takes over with a greater token, the old lease released as 'expired'."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    assert run(cursor, Acquire("fact:hp", "p1", 10)) == ["lock.acquired"]
    assert cursor.room is not None and cursor.room.locks["fact:hp"].token == 1
    run(cursor, Acquire("fact:hp", "p1", 10))
    assert cursor.room.locks["fact:hp"].token == 1  # renewed by its holder
    with pytest.raises(ScopeLockedError) as exc:
        run(cursor, Acquire("state", "dm", 10))  # state overlaps every scope
    assert exc.value.extra["holder"] == "p1" and exc.value.extra["scope"] == "fact:hp"
    later = NOW + timedelta(seconds=11)
    assert run(cursor, Acquire("state", "dm", 10), later) == ["lock.released", "lock.acquired"]
    assert {s: (lease.participant_id, lease.token) for s, lease in cursor.room.locks.items()} == {
        "state": ("dm", 2)}
    assert cursor.room.lock_token == 2


def test_renew_and_release_need_the_live_leases_token():
    """A stale token (released, taken over, or expired) is a 409; releasing nothing is a no-op."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("stage", "p1", 10))
    with pytest.raises(RoomConflictError, match="stale"):
        run(cursor, Renew("stage", "p1", 99, 10))
    assert run(cursor, Renew("stage", "p1", 1, 30)) == ["lock.acquired"]
    with pytest.raises(RoomConflictError, match="expired"):
        run(cursor, Renew("stage", "p1", 1, 30), NOW + timedelta(seconds=31))
    with pytest.raises(RoomConflictError, match="stale"):
        run(cursor, Release("stage", "dm", 1))
    assert run(cursor, Release("stage", "p1", 1)) == ["lock.released"]
    assert run(cursor, Release("stage", "p1", 1)) == []


def test_viewers_and_non_participants_may_not_lock():
    """Locks are for writers: a viewer's or stranger's acquire is a 403."""
    cursor = room_of(("dm", "owner"), ("v", "viewer"))
    for pid in ("v", "stranger"):
        with pytest.raises(RoomForbiddenError):
            run(cursor, Acquire("stage", pid, 10))


def test_leaving_ends_the_leavers_locks():
    """participant.left drops the leaver's leases; the counter keeps its value."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("fact:a", "p1", 10))
    run(cursor, Leave("p1"))
    assert cursor.room is not None and cursor.room.locks == {} and cursor.room.lock_token == 1


def test_without_a_room_appends_work_as_before():
    """No room: nobody is checked, and the cursor's room stays absent (nothing to store)."""
    cursor = SessionCursor("d", "s", 0)
    assert append(cursor, turn(1, fact("a"), person=None)) == [1]
    assert cursor.room is None and not cursor.room_changed


def test_in_a_room_strangers_and_viewers_are_refused_with_the_reason():
    """The writer (participant_id, else person_id) must be a participant and not a viewer."""
    cursor = room_of(("dm", "owner"), ("v", "viewer"))
    with pytest.raises(RoomForbiddenError, match="not a participant"):
        append(cursor, turn(1, person="p-1"))
    with pytest.raises(RoomForbiddenError, match="viewer") as exc:
        append(cursor, turn(1), writer="v")
    assert exc.value.extra["participant_id"] == "v"
    assert append(cursor, turn(1, person="dm")) == [cursor.last_seq]


def test_an_act_on_a_scope_another_holds_is_locked_and_names_scope_holder_and_field():
    """423 for an act under another participant's live lease; the holder and free scopes pass;
    after expiry the scope is free again."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("fact:hp", "p1", 10))
    with pytest.raises(ScopeLockedError) as exc:
        append(cursor, turn(1, fact("mood"), fact("hp")), writer="dm")
    assert exc.value.extra == {**exc.value.extra, "scope": "fact:hp", "holder": "p1",
                               "field": "events.0.payload.acts.1"}
    assert append(cursor, turn(1, fact("mood")), writer="dm")
    assert append(cursor, turn(2, fact("hp")), writer="p1")
    assert append(cursor, turn(3, fact("hp")), writer="dm", now=NOW + timedelta(seconds=11))


def test_a_stale_fencing_token_is_refused():
    """An append carrying a token that is not the writer's live lease's is a 409: after expiry
    and takeover, the old holder's late write is refused even on a scope now free."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("fact:hp", "p1", 10))
    assert append(cursor, turn(1, fact("hp")), writer="p1", token=1)
    later = NOW + timedelta(seconds=11)
    run(cursor, Acquire("fact:hp", "dm", 10), later)
    with pytest.raises(RoomConflictError, match="stale") as exc:
        append(cursor, turn(2, fact("hp")), writer="p1", token=1, now=later)
    assert exc.value.extra["holder"] == "dm" and exc.value.extra["current_token"] == 2
    with pytest.raises(RoomConflictError, match="stale"):
        append(cursor, turn(3, fact("other")), writer="dm", token=1, now=later)


def test_a_refused_plan_leaves_the_cursor_as_it_was():
    """A refusal writes nothing: seq and room are unchanged."""
    cursor = room_of(("dm", "owner"))
    before = (cursor.last_seq, cursor.room)
    with pytest.raises(RoomForbiddenError):
        append(cursor, turn(1), writer="nobody")
    assert (cursor.last_seq, cursor.room) == before


def test_refusals_map_to_403_423_and_409_problems():
    """The edge answers the room's refusals by kind: forbidden 403, locked 423, stale 409."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("stage", "p1", 10))
    cases = [(lambda: append(cursor, turn(1), writer="x"), 403),
             (lambda: append(cursor, turn(1, {"op": "set_stage", "stage": "combat"}), writer="dm"), 423),
             (lambda: run(cursor, Renew("stage", "p1", 5, 10)), 409)]
    for call, status in cases:
        with pytest.raises((RoomForbiddenError, ScopeLockedError, RoomConflictError)) as exc:
            call()
        answer = lifeline_problem(exc.value)
        assert answer is not None and answer.status_code == status


COMMANDS = st.one_of(
    st.builds(Acquire, st.sampled_from(["state", "stage", "fact:a", "fact:b"]),
              st.sampled_from(["dm", "p1", "p2"]), st.sampled_from([5.0, 20.0])),
    st.builds(Release, st.sampled_from(["state", "stage", "fact:a"]), st.sampled_from(["dm", "p1"]),
              st.integers(1, 6)),
    st.builds(Leave, st.sampled_from(["p1", "p2"])),
    st.builds(Join, st.sampled_from(["p1", "p2"]), st.just("editor")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(COMMANDS, st.integers(0, 30)), max_size=25))
def test_tokens_only_grow_no_scope_has_two_live_holders_and_the_fold_agrees(steps):
    """Whatever commands arrive at whatever times: issued tokens strictly increase, no two live
    leases of different holders overlap, and folding the planned log gives the cursor's room."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"), ("p2", "editor"))
    log, now, issued = [], NOW, []
    for command, gap in steps:
        now += timedelta(seconds=gap)
        try:
            rows, _ = plan_append(cursor, [], expected_seq=None, now=now, new_id=_ids(), command=command)
        except (RoomConflictError, RoomForbiddenError, ScopeLockedError):
            continue
        log += rows
        issued += [r.payload.token for r in rows if r.event_type == "lock.acquired" and not r.payload.renewed]
        assert cursor.room is not None
        held = [(s, lease) for s, lease in cursor.room.locks.items() if lease.expires_at > now]
        for (s1, a), (s2, b) in itertools.combinations(held, 2):
            assert a.participant_id == b.participant_id or not ("state" in (s1, s2) or s1 == s2)
    assert issued == sorted(set(issued))
    if log:
        assert fold(log, SessionState(room=room_of(("dm", "owner"), ("p1", "editor"),
                                                   ("p2", "editor")).room)).room == cursor.room


def test_room_round_trips_through_its_stored_json():
    """The room ingest stores (JSON) reads back equal, so a restart decides as before."""
    cursor = room_of(("dm", "owner"), ("p1", "editor"))
    run(cursor, Acquire("state", "dm", 10))
    assert cursor.room is not None
    assert Room.model_validate_json(cursor.room.model_dump_json()) == cursor.room


def test_a_conflict_resolutions_acts_touch_their_scopes():
    """A resolution applies acts like a turn, so a lease on one of their scopes covers it too."""
    resolution = NewEvent.model_construct(event_type="session.conflict.resolved", payload=ConflictResolved(
        conflict_id="c1", choice="merged", resolved_by="dm", acts=[ConfirmFactAct(key="hp", value=3)]))
    assert touched([(0, resolution)]) == [("events.0.payload.acts.0", "fact:hp")]
