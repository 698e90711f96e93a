"""Each act's effect on session state, one rule per test."""

from __future__ import annotations

from lifeline_events import SessionState, StateLimits, fold

from .events_builders import acts_turn


def _fold_acts(*acts_per_turn: list[dict], limits: StateLimits | None = None) -> SessionState:
    start = SessionState(limits=limits or StateLimits())
    return fold([acts_turn(i + 1, *acts) for i, acts in enumerate(acts_per_turn)], start)


def test_set_stage_sets_and_overwrites() -> None:
    """set_stage sets the stage; a later one replaces it."""
    state = _fold_acts([{"op": "set_stage", "stage": "discovery"}],
                       [{"op": "set_stage", "stage": "closing"}])
    assert state.stage == "closing"


def test_confirm_fact_sets_and_overwrites() -> None:
    """confirm_fact stores key→value; confirming again overwrites."""
    state = _fold_acts([{"op": "confirm_fact", "key": "service", "value": "veneers"},
                        {"op": "confirm_fact", "key": "budget", "value": {"max": 900}}],
                       [{"op": "confirm_fact", "key": "service", "value": "crowns"}])
    assert state.confirmed_facts == {"service": "crowns", "budget": {"max": 900}}


def test_retract_fact_removes_and_records() -> None:
    """retract_fact removes the fact and records the key as retracted."""
    state = _fold_acts([{"op": "confirm_fact", "key": "service", "value": "veneers"}],
                       [{"op": "retract_fact", "key": "service"}])
    assert state.confirmed_facts == {}
    assert state.retracted_facts == ("service",)


def test_reconfirming_a_retracted_fact_clears_the_retraction() -> None:
    """A fact confirmed after retraction is no longer listed as retracted."""
    state = _fold_acts([{"op": "retract_fact", "key": "k"}],
                       [{"op": "confirm_fact", "key": "k", "value": 1}])
    assert state.confirmed_facts == {"k": 1} and state.retracted_facts == ()


def test_retracted_keys_are_capped_most_recent_last() -> None:
    """Retracted keys keep the most recent max_retracted, newest last."""
    limits = StateLimits(max_retracted=2)
    state = _fold_acts(*[[{"op": "retract_fact", "key": k}] for k in "abca"], limits=limits)
    assert state.retracted_facts == ("c", "a")


def test_facts_beyond_cap_are_dropped_but_updates_apply() -> None:
    """A new fact beyond max_facts is dropped; existing keys still update."""
    limits = StateLimits(max_facts=2)
    state = _fold_acts([{"op": "confirm_fact", "key": k, "value": 1} for k in "abc"],
                       [{"op": "confirm_fact", "key": "a", "value": 2}], limits=limits)
    assert state.confirmed_facts == {"a": 2, "b": 1}


def test_set_objective_orders_by_priority_then_age() -> None:
    """Open objectives sort by priority (higher first), then oldest first."""
    state = _fold_acts([{"op": "set_objective", "id": "low", "text": "l", "priority": 1}],
                       [{"op": "set_objective", "id": "high", "text": "h", "priority": 5}],
                       [{"op": "set_objective", "id": "low2", "text": "l2", "priority": 1}])
    assert [o.id for o in state.objectives] == ["high", "low", "low2"]
    assert state.objectives[0].seq == 2


def test_set_objective_updates_in_place() -> None:
    """Setting an existing objective id updates its text and priority."""
    state = _fold_acts([{"op": "set_objective", "id": "o", "text": "a", "priority": 1}],
                       [{"op": "set_objective", "id": "o", "text": "b", "priority": 9}])
    assert [(o.id, o.text, o.priority) for o in state.objectives] == [("o", "b", 9)]


def test_complete_objective_moves_it_to_completed() -> None:
    """complete_objective closes an open objective and records its id."""
    state = _fold_acts([{"op": "set_objective", "id": "o", "text": "a"}],
                       [{"op": "complete_objective", "id": "o"}])
    assert state.objectives == () and state.completed_objectives == ("o",)


def test_completing_an_unknown_objective_changes_nothing() -> None:
    """complete_objective for an id that is not open is a no-op."""
    state = _fold_acts([{"op": "complete_objective", "id": "ghost"}])
    assert state.completed_objectives == ()


def test_reopening_a_completed_objective() -> None:
    """set_objective on a completed id reopens it."""
    state = _fold_acts([{"op": "set_objective", "id": "o"}],
                       [{"op": "complete_objective", "id": "o"}],
                       [{"op": "set_objective", "id": "o", "text": "again"}])
    assert [o.id for o in state.objectives] == ["o"] and state.completed_objectives == ()


def test_objectives_beyond_cap_are_dropped() -> None:
    """New objectives beyond max_objectives are ignored."""
    limits = StateLimits(max_objectives=1)
    state = _fold_acts([{"op": "set_objective", "id": "a"}, {"op": "set_objective", "id": "b"}],
                       limits=limits)
    assert [o.id for o in state.objectives] == ["a"]


def test_pins_are_newest_first_and_repin_moves_to_front() -> None:
    """pin puts the newest first; pinning an existing id moves it to the front."""
    state = _fold_acts([{"op": "pin", "id": "a", "text": "A"}],
                       [{"op": "pin", "id": "b", "text": "B"}],
                       [{"op": "pin", "id": "a", "text": "A2"}])
    assert [(p.id, p.text) for p in state.pins] == [("a", "A2"), ("b", "B")]


def test_pins_in_one_turn_keep_act_order_newest_first() -> None:
    """Two pins in one turn: the later act is the newer pin."""
    state = _fold_acts([{"op": "pin", "id": "a", "text": "A"},
                        {"op": "pin", "id": "b", "text": "B"}])
    assert [p.id for p in state.pins] == ["b", "a"]


def test_pins_are_capped_dropping_oldest() -> None:
    """Only the newest max_pins pins are kept."""
    limits = StateLimits(max_pins=2)
    state = _fold_acts(*[[{"op": "pin", "id": i, "text": i}] for i in "abc"], limits=limits)
    assert [p.id for p in state.pins] == ["c", "b"]


def test_unpin_removes_the_pin() -> None:
    """unpin drops the pin with that id; unknown ids are ignored."""
    state = _fold_acts([{"op": "pin", "id": "a", "text": "A"}],
                       [{"op": "unpin", "id": "a"}, {"op": "unpin", "id": "zzz"}])
    assert state.pins == ()


def test_episodes_order_by_salience_then_recency() -> None:
    """Episodes sort by salience (high first), then newest first."""
    state = _fold_acts([{"op": "add_episode", "text": "old", "salience": 0.5}],
                       [{"op": "add_episode", "text": "big", "salience": 0.9}],
                       [{"op": "add_episode", "text": "new", "salience": 0.5}])
    assert [e.text for e in state.episodes] == ["big", "new", "old"]


def test_episodes_are_capped_dropping_least_salient() -> None:
    """Beyond max_episodes the least salient episode is dropped."""
    limits = StateLimits(max_episodes=2)
    state = _fold_acts([{"op": "add_episode", "text": "a", "salience": 0.2}],
                       [{"op": "add_episode", "text": "b", "salience": 0.8}],
                       [{"op": "add_episode", "text": "c", "salience": 0.5}], limits=limits)
    assert [e.text for e in state.episodes] == ["b", "c"]


def test_repeated_episode_merges_keeping_max_salience() -> None:
    """The same episode text twice is one episode with the higher salience, newest seq."""
    state = _fold_acts([{"op": "add_episode", "text": "x", "salience": 0.9}],
                       [{"op": "add_episode", "text": "x", "salience": 0.1}])
    assert [(e.text, e.salience, e.seq) for e in state.episodes] == [("x", 0.9, 2)]


def test_flags_count_and_keep_latest_detail() -> None:
    """flag counts raises and keeps the latest non-null detail."""
    state = _fold_acts([{"op": "flag", "name": "pii", "detail": "email"}],
                       [{"op": "flag", "name": "pii"}])
    flag = state.flags["pii"]
    assert (flag.count, flag.detail, flag.last_seq) == (2, "email", 2)


def test_flags_beyond_cap_are_dropped() -> None:
    """New flag names beyond max_flags are ignored."""
    limits = StateLimits(max_flags=1)
    state = _fold_acts([{"op": "flag", "name": "a"}, {"op": "flag", "name": "b"}], limits=limits)
    assert list(state.flags) == ["a"]


def test_error_and_strength_acts_count() -> None:
    """error and strength acts increment their counters."""
    state = _fold_acts([{"op": "error", "code": "no_greeting"},
                        {"op": "strength", "code": "empathy"}],
                       [{"op": "error", "code": "no_greeting"}])
    assert state.error_counts == {"no_greeting": 2}
    assert state.strength_counts == {"empathy": 1}


def test_counters_beyond_cap_drop_new_codes() -> None:
    """Error codes beyond max_counter_keys are not counted."""
    limits = StateLimits(max_counter_keys=1)
    state = _fold_acts([{"op": "error", "code": "a"}, {"op": "error", "code": "b"},
                        {"op": "error", "code": "a"}], limits=limits)
    assert state.error_counts == {"a": 2}


def test_acts_do_not_mutate_the_previous_state() -> None:
    """Applying acts leaves the earlier state object untouched."""
    first = _fold_acts([{"op": "confirm_fact", "key": "a", "value": 1},
                        {"op": "error", "code": "e"}])
    before = first.model_dump()
    fold([acts_turn(2, {"op": "confirm_fact", "key": "b", "value": 2},
                    {"op": "error", "code": "e"}, {"op": "pin", "id": "p", "text": "t"})], first)
    assert first.model_dump() == before
