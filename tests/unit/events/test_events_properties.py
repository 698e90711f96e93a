"""Property tests of the fold: determinism, order-insensitivity, idempotence, bounds."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_events import (
    Event,
    SessionState,
    StateLimits,
    canonical_json,
    content_hash,
    estimate_tokens,
    fold,
)

from .events_builders import event, turn

PROPS = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

words = st.sampled_from(["veneers", "Anna", "price", "12", "when", "ok", "March", "yes", "no",
                         "implant", "budget", "thanks", "why", "maybe", "pain"])
texts = st.lists(words, max_size=30).map(" ".join).flatmap(
    lambda body: st.sampled_from([body, body + "?", body + ". " + body + "!"]))
ids = st.sampled_from(["a", "b", "c", "d", "e", "f"])

acts = st.one_of(
    st.builds(lambda s: {"op": "set_stage", "stage": s}, ids),
    st.builds(lambda k, v: {"op": "confirm_fact", "key": k, "value": v}, ids,
              st.one_of(st.integers(-5, 5), ids, st.booleans())),
    st.builds(lambda k: {"op": "retract_fact", "key": k}, ids),
    st.builds(lambda i, t, p: {"op": "set_objective", "id": i, "text": t, "priority": p},
              ids, texts, st.integers(-3, 3)),
    st.builds(lambda i: {"op": "complete_objective", "id": i}, ids),
    st.builds(lambda i, t: {"op": "pin", "id": i, "text": t}, ids, texts),
    st.builds(lambda i: {"op": "unpin", "id": i}, ids),
    st.builds(lambda t, s: {"op": "add_episode", "text": t or "e", "salience": s}, texts,
              st.floats(0, 1)),
    st.builds(lambda n: {"op": "flag", "name": n}, ids),
    st.builds(lambda c: {"op": "error", "code": c}, ids),
    st.builds(lambda c: {"op": "strength", "code": c}, ids),
)


@st.composite
def logs(draw: st.DrawFn, max_events: int = 25) -> list[Event]:
    """A gapless session log of turns, evaluations and the occasional finish."""
    n = draw(st.integers(1, max_events))
    out = []
    for seq in range(1, n + 1):
        kind = draw(st.sampled_from(["turn"] * 6 + ["eval", "finish", "started"]))
        if kind == "turn":
            out.append(turn(seq, draw(texts), role=draw(st.sampled_from(["user", "assistant"])),
                            acts=draw(st.lists(acts, max_size=4)),
                            salience=draw(st.none() | st.floats(0, 1)),
                            intent=draw(st.none() | ids)))
        elif kind == "eval":
            out.append(event(seq, "turn.evaluated", {
                "turn_id": 1, "errors": draw(st.lists(ids, max_size=3)),
                "strengths": draw(st.lists(ids, max_size=3))}))
        elif kind == "finish":
            out.append(event(seq, "session.finished", {"reason": "done"}))
        else:
            out.append(event(seq, "session.started", {}))
    return out


small_limits = st.builds(
    StateLimits,
    recent_turns=st.integers(1, 4),
    summary_budget_tokens=st.integers(8, 64),
    max_pins=st.integers(1, 3),
    max_episodes=st.integers(1, 3),
    max_facts=st.integers(1, 4),
    max_retracted=st.integers(1, 3),
    max_objectives=st.integers(1, 3),
    max_completed=st.integers(1, 3),
    max_flags=st.integers(1, 3),
    max_counter_keys=st.integers(1, 3),
)


@PROPS
@given(logs())
def test_fold_is_deterministic(events: list[Event]) -> None:
    """The same events folded twice give byte-identical canonical JSON."""
    assert canonical_json(fold(events)) == canonical_json(fold(list(events)))


@PROPS
@given(logs(), st.randoms(use_true_random=False))
def test_fold_is_order_insensitive(events: list[Event], rnd: random.Random) -> None:
    """Shuffling the input list does not change the folded state."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert content_hash(fold(shuffled)) == content_hash(fold(events))


@PROPS
@given(logs(), st.data())
def test_fold_is_idempotent_under_redelivery(events: list[Event], data: st.DataObject) -> None:
    """Duplicated and redelivered events (any order) leave the state unchanged."""
    dupes = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    expected = canonical_json(fold(events))
    assert canonical_json(fold([*events, *dupes])) == expected
    state = fold(events)
    assert canonical_json(fold(dupes, state)) == expected


@PROPS
@given(logs(), st.data())
def test_resume_from_snapshot_equals_full_replay(events: list[Event], data: st.DataObject) -> None:
    """Folding the rest of a log onto a state reloaded from JSON equals a full fold."""
    cut = data.draw(st.integers(0, len(events)))
    snapshot = SessionState.model_validate_json(canonical_json(fold(events[:cut])))
    assert canonical_json(fold(events[cut:], snapshot)) == canonical_json(fold(events))


@PROPS
@given(logs(max_events=40), small_limits)
def test_state_stays_within_limits(events: list[Event], limits: StateLimits) -> None:
    """Every capped collection and the summary stay within the state's limits."""
    state = fold(events, SessionState(limits=limits))
    assert estimate_tokens(state.summary) <= limits.summary_budget_tokens
    assert len(state.recent_turns) <= limits.recent_turns
    assert len(state.pins) <= limits.max_pins
    assert len(state.episodes) <= limits.max_episodes
    assert len(state.confirmed_facts) <= limits.max_facts
    assert len(state.retracted_facts) <= limits.max_retracted
    assert len(state.objectives) <= limits.max_objectives
    assert len(state.completed_objectives) <= limits.max_completed
    assert len(state.flags) <= limits.max_flags
    for counter in (state.error_counts, state.strength_counts, state.skill_tag_counts):
        assert len(counter) <= limits.max_counter_keys


@PROPS
@given(logs(max_events=40), small_limits)
def test_window_and_counts_account_for_every_turn(
    events: list[Event], limits: StateLimits
) -> None:
    """S1 holds the latest min(K, turns) turns; the state counts every turn once."""
    state = fold(events, SessionState(limits=limits))
    turns = [e for e in events if e.event_type == "turn.recorded"]
    assert state.turn_count == len(turns)
    assert [t.seq for t in state.recent_turns] == [e.seq for e in turns][-limits.recent_turns:]
    assert state.seq == max(e.seq for e in events)


@settings(max_examples=20, deadline=None, database=None)
@given(st.integers(1, 300))
def test_long_sessions_stay_bounded(n: int) -> None:
    """However many turns, summary and windows stay bounded by default limits."""
    events = [turn(i, f"Turn {i} mentions Anna and 12 veneers? Yes.",
                   acts=[{"op": "add_episode", "text": f"ep {i}", "salience": (i % 10) / 10},
                         {"op": "pin", "id": f"p{i}", "text": "x"}]) for i in range(1, n + 1)]
    state = fold(events)
    assert estimate_tokens(state.summary) <= state.limits.summary_budget_tokens
    assert len(state.recent_turns) == min(n, 10) and len(state.pins) <= 20
    assert len(canonical_json(state)) < 32_000
