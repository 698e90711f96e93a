"""The room fold: participants, leases with fencing tokens, open conflicts, branches."""

from __future__ import annotations

import orjson

from lifeline_events import (
    ConfirmFactAct,
    SessionState,
    SetStageAct,
    act_scope,
    canonical_json,
    content_hash,
    fold,
    scope_covers,
)

from .events_builders import acts_turn, event

LATER = "2030-01-01T00:00:00Z"


def _room_log() -> list:
    return [
        event(1, "participant.joined", {"participant_id": "dm", "role": "owner"}),
        event(2, "participant.joined", {"participant_id": "p1", "role": "editor"}),
        event(3, "lock.acquired", {"scope": "fact:hp", "participant_id": "p1", "token": 1,
                                   "expires_at": LATER}),
        event(4, "lock.acquired", {"scope": "state", "participant_id": "dm", "token": 2,
                                   "expires_at": LATER}),
    ]


def test_joins_leases_and_tokens_fold_into_the_room() -> None:
    state = fold(_room_log())
    assert state.room is not None
    assert {k: v.role for k, v in state.room.participants.items()} == {"dm": "owner", "p1": "editor"}
    assert {k: (v.participant_id, v.token) for k, v in state.room.locks.items()} == {
        "fact:hp": ("p1", 1), "state": ("dm", 2)}
    assert state.room.lock_token == 2


def test_leaving_drops_the_holders_leases_but_never_the_token_counter() -> None:
    state = fold([*_room_log(), event(5, "participant.left", {"participant_id": "p1"})])
    assert state.room is not None
    assert "p1" not in state.room.participants
    assert list(state.room.locks) == ["state"]
    assert state.room.lock_token == 2


def test_a_stale_release_does_not_end_a_newer_lease() -> None:
    log = [*_room_log(),
           event(5, "lock.acquired", {"scope": "fact:hp", "participant_id": "dm", "token": 3,
                                      "expires_at": LATER}),
           event(6, "lock.released", {"scope": "fact:hp", "participant_id": "p1", "token": 1,
                                      "reason": "expired"})]
    state = fold(log)
    assert state.room is not None
    assert state.room.locks["fact:hp"].token == 3


def test_a_resolution_applies_its_acts_and_closes_the_conflict() -> None:
    opened = event(2, "session.conflict.opened", {
        "conflict_id": "c-1", "strategy": "user_choice", "participant_id": "p1", "expected_seq": 0,
        "scopes": ["fact:hp"], "ours": [{"event_type": "turn.recorded"}], "theirs": {"fact:hp": 7}})
    resolved = event(3, "session.conflict.resolved", {
        "conflict_id": "c-1", "choice": "merged", "resolved_by": "p1",
        "acts": [{"op": "confirm_fact", "key": "hp", "value": 9}]})
    mid = fold([acts_turn(1, {"op": "confirm_fact", "key": "hp", "value": 7}), opened])
    assert mid.room is not None and [c.conflict_id for c in mid.room.open_conflicts] == ["c-1"]
    done = fold([resolved], mid)
    assert done.room is not None and done.room.open_conflicts == ()
    assert done.confirmed_facts == {"hp": 9}


def test_a_session_without_a_room_hashes_as_before_rooms_existed() -> None:
    state = fold([acts_turn(1, {"op": "set_stage", "stage": "intro"})])
    doc = orjson.loads(canonical_json(state))
    assert "room" not in doc and "branched_from" not in doc
    assert content_hash(SessionState.model_validate(doc)) == content_hash(state)


def test_a_restore_keeps_the_room_and_the_fencing_counter() -> None:
    snapshot = fold([acts_turn(1, {"op": "set_stage", "stage": "intro"})])
    payload = {"snapshot_id": "snap-1", "content_hash": content_hash(snapshot),
               "state": orjson.loads(canonical_json(snapshot))}
    state = fold([*_room_log(), event(5, "session.restored", payload)])
    assert state.stage == "intro"
    assert state.room is not None and state.room.lock_token == 2 and "dm" in state.room.participants


def test_a_branch_records_its_origin() -> None:
    state = fold([event(1, "session.branched", {"parent_session_id": "s-1", "from_seq": 0,
                                                "name": "what-if"})])
    assert state.branched_from is not None
    assert (state.branched_from.parent_session_id, state.branched_from.from_seq) == ("s-1", 0)


def test_a_branch_keeps_the_room_it_inherits() -> None:
    """Inherited room events fold as in the parent and session.branched keeps the room, as
    ingest stores the parent's room as of from_seq with the branch (branch_store.py)."""
    state = fold([*_room_log(), event(5, "session.branched", {"parent_session_id": "s-1", "from_seq": 4})])
    assert state.room == fold(_room_log()).room and state.branched_from is not None


def test_scopes_of_acts_and_what_a_lock_covers() -> None:
    assert act_scope(ConfirmFactAct(key="hp", value=1)) == "fact:hp"
    assert act_scope(SetStageAct(stage="x")) == "stage"
    assert scope_covers("state", "fact:hp") and scope_covers("fact:hp", "fact:hp")
    assert not scope_covers("fact:hp", "fact:mp")
