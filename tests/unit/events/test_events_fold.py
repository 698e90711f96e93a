"""The fold's event rules: dedupe, ordering, restore, finish, evaluation, windows."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from lifeline_events import (
    SessionMismatchError,
    SessionState,
    StateLimits,
    apply,
    canonical_json,
    content_hash,
    estimate_tokens,
    fold,
    score_turn,
)

from .events_builders import acts_turn, event, turn


def test_empty_fold_is_the_empty_state() -> None:
    """Folding nothing gives the default state at seq 0."""
    assert fold([]) == SessionState()
    assert fold([]).seq == 0


def test_turn_sets_scope_seq_counts_and_intent() -> None:
    """A turn scopes the state, advances seq and turn_count, and sets the intent."""
    state = fold([turn(1, "hi", intent="service_inquiry", turn_id=11)])
    assert (state.tenant_id, state.session_id, state.person_id) == ("t-1", "s-42", "p-7")
    assert (state.seq, state.turn_count, state.last_turn_id) == (1, 1, 11)
    assert state.intent == "service_inquiry"


def test_intent_persists_until_replaced() -> None:
    """A turn without intent keeps the current intent."""
    state = fold([turn(1, intent="a"), turn(2), turn(3, intent="b"), turn(4)])
    assert state.intent == "b"


def test_event_at_or_below_state_seq_is_ignored() -> None:
    """apply skips events whose seq is not above the state's (redeliveries)."""
    state = fold([turn(1, "a"), turn(2, "b")])
    assert apply(state, turn(2, "b")) is state
    assert apply(state, turn(1, "different")) is state


def test_fold_sorts_by_seq() -> None:
    """fold applies in seq order whatever the list order."""
    events = [turn(3, "c"), turn(1, "a"), turn(2, "b")]
    assert [t.text for t in fold(events).recent_turns] == ["a", "b", "c"]


def test_event_from_another_session_raises() -> None:
    """Mixing sessions in one fold is a caller bug and raises SessionMismatchError."""
    state = fold([turn(1)])
    with pytest.raises(SessionMismatchError):
        apply(state, event(2, "session.finished", session_id="s-other"))


def test_event_from_another_tenant_raises() -> None:
    """A same-named session of another tenant is not mixed in."""
    state = fold([turn(1)])
    with pytest.raises(SessionMismatchError):
        apply(state, event(2, "session.finished", tenant_id="t-other"))


def test_session_started_marks_started_and_initial_stage() -> None:
    """session.started sets started and the optional initial stage."""
    state = fold([event(1, "session.started", {"initial_stage": "greeting", "channel": "web"})])
    assert state.started and state.stage == "greeting"


def test_session_finished_sets_finished_and_reason() -> None:
    """session.finished sets finished=True with the reason."""
    state = fold([turn(1), event(2, "session.finished", {"reason": "user_left"})])
    assert state.finished and state.finish_reason == "user_left"


def test_turn_evaluated_counts_errors_strengths_tags() -> None:
    """turn.evaluated adds its errors, strengths and skill tags to the counters."""
    state = fold([
        turn(1),
        event(2, "turn.evaluated", {"turn_id": 1, "errors": ["e1", "e2"], "strengths": ["s"],
                                    "skill_tags": ["closing"], "score": 7.5}),
        event(3, "turn.evaluated", {"turn_id": 1, "errors": ["e1"]}),
    ])
    assert state.error_counts == {"e1": 2, "e2": 1}
    assert state.strength_counts == {"s": 1}
    assert state.skill_tag_counts == {"closing": 1}
    assert (state.evaluation_count, state.last_evaluation_score) == (2, 7.5)


def test_model_stats_accumulate_per_model() -> None:
    """Assistant turns with a model_id accumulate calls, outcomes, score and latency."""
    state = fold([
        turn(1, role="assistant", model_id="gpt-a", model_score=8.0, success=True, latency_ms=100),
        turn(2, role="assistant", model_id="gpt-a", success=False, latency_ms=50),
    ])
    stats = state.model_stats["gpt-a"]
    assert (stats.calls, stats.successes, stats.failures) == (2, 1, 1)
    assert (stats.score_sum, stats.score_count, stats.latency_ms_total) == (8.0, 1, 150)


@pytest.mark.parametrize("event_type, payload", [
    ("snapshot.created", {"snapshot_id": "snap", "content_hash": "a" * 64, "at_seq": 1}),
    ("profile.consolidated", {"person_id": "p-7"}),
    ("model.call.recorded", {"model_id": "m", "success": True}),
    ("model.state.changed", {"model_id": "m", "to_state": "CANDIDATE", "reason": "score"}),
    ("model.anomaly.detected", {"model_id": "m", "previous_score": 8, "current_score": 5,
                                "drop": 3}),
])
def test_announcements_only_advance_seq(event_type: str, payload: dict) -> None:
    """Lifecycle/governance events change nothing but seq."""
    before = fold([turn(1, "x")])
    after = apply(before, event(2, event_type, payload))
    assert after.seq == 2
    assert after.model_copy(update={"seq": 1}) == before


def test_recent_turns_keep_last_k_in_order() -> None:
    """recent_turns holds the last K turns, oldest first, with their fields."""
    state = fold([turn(i, f"turn {i}.") for i in range(1, 6)],
                 SessionState(limits=StateLimits(recent_turns=3)))
    assert [t.seq for t in state.recent_turns] == [3, 4, 5]
    last = state.recent_turns[-1]
    assert (last.turn_id, last.role, last.text) == (5, "user", "turn 5.")


def test_turns_leaving_the_window_enter_the_summary() -> None:
    """A turn evicted from S1 appears in the S2 summary, role-prefixed."""
    state = fold([turn(1, "I want veneers."), turn(2, "ok")],
                 SessionState(limits=StateLimits(recent_turns=1)))
    assert state.summary == "User: I want veneers."
    assert [line.seq for line in state.summary_lines] == [1]


def test_summary_stays_within_budget_dropping_low_salience() -> None:
    """Over budget, the least salient summary sentences are dropped first."""
    limits = StateLimits(recent_turns=1, summary_budget_tokens=16)
    events = [
        turn(1, "Filler words here and there.", salience=0.0),
        turn(2, "Patient Anna needs veneers by March?", salience=1.0),
        turn(3, "More filler words here.", salience=0.0),
        turn(4, "last"),
    ]
    state = fold(events, SessionState(limits=limits))
    assert estimate_tokens(state.summary) <= 16
    assert "Anna" in state.summary and "Filler" not in state.summary


def test_missing_salience_is_scored_by_default_scorer() -> None:
    """A turn without salience gets the default scorer's value in S1."""
    ev = turn(1, "What is the price of veneers?")
    assert fold([ev]).recent_turns[0].salience == score_turn(ev.payload)


def test_producer_salience_is_kept() -> None:
    """A turn's own salience is used as given."""
    assert fold([turn(1, salience=0.25)]).recent_turns[0].salience == 0.25


def _restore_event(seq: int, snapshot: SessionState, **extra) -> object:
    payload = {"snapshot_id": "snap-1", "content_hash": content_hash(snapshot),
               "state": snapshot.model_dump(mode="json"), **extra}
    return event(seq, "session.restored", payload)


def test_session_restored_replaces_state_and_keeps_seq_advancing() -> None:
    """session.restored swaps in the snapshot's state at the restore event's seq."""
    snapshot = fold([acts_turn(1, {"op": "set_stage", "stage": "early"})])
    live = fold([acts_turn(1, {"op": "set_stage", "stage": "early"}),
                 acts_turn(2, {"op": "set_stage", "stage": "late"})])
    restored = apply(live, _restore_event(3, snapshot))
    assert restored.stage == "early" and restored.seq == 3
    assert restored.turn_count == 1 and restored.restored_from == "snap-1"
    assert apply(restored, acts_turn(2, {"op": "set_stage", "stage": "late"})) is restored
    assert apply(restored, acts_turn(4, {"op": "set_stage", "stage": "next"})).stage == "next"


def test_restore_rehomes_a_state_from_another_session() -> None:
    """A restored snapshot takes the session and tenant of the log it lands in."""
    other = fold([event(1, "session.started", session_id="s-src", tenant_id="t-1")])
    state = fold([turn(1), _restore_event(2, other)])
    assert (state.session_id, state.tenant_id) == ("s-42", "t-1")


def test_restore_with_wrong_hash_is_rejected_at_validation() -> None:
    """A session.restored whose content_hash does not match its state is invalid."""
    snapshot = fold([turn(1)])
    with pytest.raises(ValueError, match="does not match"):
        _restore_event(2, snapshot, content_hash="0" * 64)


def test_restore_payload_accepts_a_state_model() -> None:
    """SessionRestored.state may be given as a SessionState and hashes the same."""
    from lifeline_events import SessionRestored

    snapshot = fold([turn(1, "x")])
    payload = SessionRestored(snapshot_id="s", content_hash=content_hash(snapshot), state=snapshot)
    assert payload.session_state() == snapshot


def test_canonical_json_is_sorted_compact_and_hashed() -> None:
    """canonical_json sorts keys without whitespace; content_hash is its sha256."""
    state = fold([acts_turn(1, {"op": "confirm_fact", "key": "b", "value": 1},
                            {"op": "confirm_fact", "key": "a", "value": 2})])
    data = canonical_json(state)
    assert data == orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)
    assert b'"confirmed_facts":{"a":2,"b":1}' in data
    assert content_hash(state) == hashlib.sha256(data).hexdigest()
    assert canonical_json(state.model_dump(mode="json")) == data


def test_state_round_trips_through_canonical_json() -> None:
    """A state reloaded from its canonical JSON is equal and re-serialises identically."""
    state = fold([turn(i, f"Sentence {i}. Another one?", salience=0.1 * i) for i in range(1, 9)],
                 SessionState(limits=StateLimits(recent_turns=2)))
    reloaded = SessionState.model_validate_json(canonical_json(state))
    assert reloaded == state and canonical_json(reloaded) == canonical_json(state)


def test_state_ignores_unknown_fields_from_other_builds() -> None:
    """A snapshot carrying a field this build lacks still loads."""
    data = fold([turn(1)]).model_dump(mode="json") | {"future_field": 1}
    assert SessionState.model_validate(data).seq == 1
