"""A session's conflict policy: one event, folded into the room, absent until set."""

from __future__ import annotations

from lifeline_events import COLLABORATION_TYPES, EVENT_TYPES, SessionState, canonical_json, fold

from .events_builders import event


def test_policy_set_folds_into_the_room_and_the_last_one_wins() -> None:
    """The latest `session.policy.set` is the session's policy; the room holds it."""
    state = fold([
        event(1, "session.policy.set", {"conflict_strategy": "automatic_merge"}),
        event(2, "session.policy.set", {"conflict_strategy": "provider_priority",
                                        "provider_priority": ["owner", "openai"]}),
    ])
    assert state.room is not None and state.room.policy is not None
    assert state.room.policy.conflict_strategy == "provider_priority"
    assert state.room.policy.provider_priority == ("owner", "openai")


def test_a_room_without_a_policy_hashes_as_before() -> None:
    """A room that never had a policy leaves `policy` out of its JSON."""
    state = fold([event(1, "participant.joined", {"participant_id": "dm", "role": "owner"})])
    assert b'"policy"' not in canonical_json(state)
    assert b'"room"' not in canonical_json(SessionState())


def test_policy_set_is_written_by_ingest_routes_only() -> None:
    """The policy event is a known type that a plain append may not carry."""
    assert "session.policy.set" in EVENT_TYPES
    assert "session.policy.set" in COLLABORATION_TYPES
