"""The conflict strategies' pure decision (conflicts.py), by property over generated logs."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import Event, NewEvent, SessionState, fold, parse_new_event
from lifeline_ingest.conflicts import (
    DROPPED_FLAG,
    batch_scopes,
    changes_since,
    conflict_id,
    decide,
    strategy_for,
)
from lifeline_ingest.settings import IngestSettings

T0 = datetime(2026, 11, 30, tzinfo=UTC)
STRATEGIES = ["reject", "latest_wins", "automatic_merge", "provider_priority", "user_choice",
              "manual_merge"]

act = st.one_of(
    st.builds(lambda s: {"op": "set_stage", "stage": s}, st.sampled_from(["intro", "combat", "rest"])),
    st.builds(lambda k, v: {"op": "confirm_fact", "key": k, "value": v},
              st.sampled_from("abcd"), st.integers(0, 9)),
    st.builds(lambda k: {"op": "retract_fact", "key": k}, st.sampled_from("abcd")),
    st.builds(lambda i, p: {"op": "set_objective", "id": i, "text": f"do {i}", "priority": p},
              st.sampled_from(["o1", "o2"]), st.integers(0, 3)),
    st.builds(lambda i: {"op": "complete_objective", "id": i}, st.sampled_from(["o1", "o2"])),
    st.builds(lambda i, t: {"op": "pin", "id": i, "text": t}, st.sampled_from(["x", "y"]),
              st.sampled_from(["map", "key"])),
    st.builds(lambda i: {"op": "unpin", "id": i}, st.sampled_from(["x", "y"])),
    st.builds(lambda n: {"op": "flag", "name": n}, st.sampled_from(["risk", "loot"])),
)
turn_acts = st.lists(act, min_size=0, max_size=4)
turns = st.lists(turn_acts, min_size=0, max_size=5)
sources = st.sampled_from(["dm", "p1", "p2"])


def new_turn(turn_id: int, acts: list[dict[str, Any]], person: str = "p1",
             model: str | None = None) -> NewEvent:
    payload: dict[str, Any] = {"role": "assistant", "text": f"turn {turn_id}", "acts": acts}
    if model:
        payload["model_id"] = model
    return parse_new_event({"event_type": "turn.recorded", "turn_id": turn_id, "person_id": person,
                            "payload": payload}, session_id="s", tenant_id="t")


def logged(seq: int, event: NewEvent) -> Event:
    return Event.model_validate({**event.model_dump(), "event_id": uuid.UUID(int=seq), "seq": seq,
                                 "occurred_at": T0 + timedelta(seconds=seq),
                                 "recorded_at": T0 + timedelta(seconds=seq)})


def log_of(acts_per_turn: list[list[dict[str, Any]]], first_seq: int, first_turn: int,
           person: str = "p2") -> list[Event]:
    return [logged(first_seq + i, new_turn(first_turn + i, a, person))
            for i, a in enumerate(acts_per_turn)]


def scoped_view(state: SessionState) -> dict[str, Any]:
    """What scopes hold, without the positions (seq) and orders that record when."""
    return {"stage": state.stage, "facts": state.confirmed_facts,
            "retracted": set(state.retracted_facts), "completed": set(state.completed_objectives),
            "objectives": {o.id: (o.text, o.priority) for o in state.objectives},
            "pins": {p.id: p.text for p in state.pins}}


@settings(max_examples=150, deadline=None)
@given(base=turns, theirs=turns, ours=st.lists(turn_acts, min_size=1, max_size=4))
def test_automatic_merge_appends_the_batch_untouched_exactly_when_no_scope_conflicts(
        base, theirs, ours) -> None:
    """automatic_merge appends every act of a non-conflicting batch, and the result equals
    applying the two sides in either order; otherwise it refuses naming exactly the scopes
    both sides changed, with the latest value written since expected_seq."""
    history = log_of(base, 1, 1)
    since = log_of(theirs, len(base) + 1, 100)
    batch = [new_turn(200 + i, a) for i, a in enumerate(ours)]
    decision = decide("automatic_merge", batch, changes_since(since, {}))
    overlap = batch_scopes(batch) & batch_scopes([new_turn(1, a) for a in theirs])
    if not overlap:
        assert decision.verdict == "append" and list(decision.events) == batch
        seq = len(base) + len(theirs)
        theirs_first = fold([*history, *since, *(logged(seq + 1 + i, e) for i, e in enumerate(batch))])
        ours_first = fold([*history, *(logged(len(base) + 1 + i, e) for i, e in enumerate(batch)),
                           *log_of(theirs, len(base) + len(batch) + 1, 100)])
        assert scoped_view(theirs_first) == scoped_view(ours_first)
    else:
        assert decision.verdict == "refuse"
        assert set(decision.conflicts) == overlap
        latest = scoped_view(fold([*history, *since]))
        for scope, value in decision.conflicts.items():
            kind, _, key = scope.partition(":")
            if kind == "fact":
                assert value == latest["facts"].get(key)
            elif kind == "stage":
                assert value == latest["stage"]
            elif kind == "pin":
                assert value == latest["pins"].get(key)


@settings(max_examples=100, deadline=None)
@given(theirs=turns, ours=st.lists(turn_acts, min_size=1, max_size=3),
       strategy=st.sampled_from(STRATEGIES), writer=sources, seed=st.integers(0, 2**32))
def test_every_strategy_is_deterministic_for_a_given_log(theirs, ours, strategy, writer, seed) -> None:
    """The same log and batch give the same decision and conflict id, whatever order the
    logged events arrive in."""
    since = log_of(theirs, 5, 100)
    shuffled = list(since)
    random.Random(seed).shuffle(shuffled)
    batch = [new_turn(200 + i, a, writer) for i, a in enumerate(ours)]
    roles = {"dm": "owner", "p1": "editor", "p2": "editor"}
    one = decide(strategy, batch, changes_since(since, roles), writer=writer, roles=roles,
                 priority=["owner", "p2"])
    two = decide(strategy, batch, changes_since(shuffled, roles), writer=writer, roles=roles,
                 priority=["owner", "p2"])
    assert one == two
    assert conflict_id("t", "s", 4, batch) == conflict_id("t", "s", 4, list(batch))


@settings(max_examples=100, deadline=None)
@given(theirs=turns, ours=st.lists(turn_acts, min_size=1, max_size=3), writer=sources)
def test_provider_priority_drops_only_conflicting_acts_of_the_lower_ranked_side(
        theirs, ours, writer) -> None:
    """Under provider_priority an act of the batch is dropped iff its scope conflicts and the
    logged write ranks higher; everything else is kept in order, and a flag records drops."""
    roles = {"dm": "owner", "p1": "editor", "p2": "editor"}
    priority = ["owner", "p2", "p1"]
    since = log_of(theirs, 5, 100, person="p2")
    batch = [new_turn(200 + i, a, writer) for i, a in enumerate(ours)]
    decision = decide("provider_priority", batch, changes_since(since, roles), writer=writer,
                      roles=roles, priority=priority)
    assert decision.verdict == "append"
    ours_rank = priority.index(roles[writer] if writer == "dm" else writer)
    theirs_rank = priority.index("p2")
    conflicting = batch_scopes(batch) & batch_scopes([new_turn(1, a) for a in theirs])
    for original, kept in zip(batch, decision.events, strict=True):
        expected = [a for a in original.payload.acts
                    if not (_scope(a) in conflicting and theirs_rank < ours_rank)]
        got = [a for a in kept.payload.acts if getattr(a, "name", None) != DROPPED_FLAG]
        assert got == expected
        if len(expected) < len(original.payload.acts):
            assert kept.payload.acts[-1].name == DROPPED_FLAG
    assert len(decision.dropped) == sum(
        len(e.payload.acts) - len([a for a in k.payload.acts if getattr(a, "name", None) != DROPPED_FLAG])
        for e, k in zip(batch, decision.events, strict=True))


def _scope(act: Any) -> str | None:
    from lifeline_events import act_scope
    return act_scope(act)


@settings(max_examples=60, deadline=None)
@given(theirs=turns, ours=st.lists(turn_acts, min_size=1, max_size=3),
       strategy=st.sampled_from(["user_choice", "manual_merge"]))
def test_parking_strategies_park_exactly_the_conflicting_batches(theirs, ours, strategy) -> None:
    """user_choice and manual_merge park a batch iff a scope conflicts; else it is appended."""
    since = log_of(theirs, 5, 100)
    batch = [new_turn(200 + i, a) for i, a in enumerate(ours)]
    decision = decide(strategy, batch, changes_since(since, {}))
    conflicting = batch_scopes(batch) & batch_scopes([new_turn(1, a) for a in theirs])
    assert decision.verdict == ("park" if conflicting else "append")
    assert set(decision.conflicts) == conflicting


@settings(max_examples=60, deadline=None)
@given(theirs=turns, ours=st.lists(turn_acts, min_size=1, max_size=3))
def test_reject_refuses_every_stale_batch_and_latest_wins_appends_it(theirs, ours) -> None:
    """reject answers 409 whether or not scopes conflict; latest_wins appends as is."""
    since = changes_since(log_of(theirs, 5, 100), {})
    batch = [new_turn(200 + i, a) for i, a in enumerate(ours)]
    assert decide("reject", batch, since).verdict == "refuse"
    assert decide("latest_wins", batch, since).events == tuple(batch)


def test_reject_stays_the_default() -> None:
    """Without on_conflict and a session policy, the setting decides, and it is reject."""
    assert IngestSettings().conflict_strategy == "reject"
    assert strategy_for(None, None, IngestSettings().conflict_strategy) == "reject"
    assert strategy_for(None, "automatic_merge", "reject") == "automatic_merge"
    assert strategy_for("latest_wins", "automatic_merge", "reject") == "latest_wins"


def test_a_restore_since_expected_seq_conflicts_with_every_scope_the_batch_touches() -> None:
    """A restore replaced every scope, so automatic_merge refuses anything scoped after it."""
    restore = logged(5, parse_new_event({
        "event_type": "session.restored", "person_id": "p2",
        "payload": {"snapshot_id": "snap-1", "state": SessionState().model_dump(mode="json"),
                    "content_hash": _hash(SessionState())}}, session_id="s", tenant_id="t"))
    batch = [new_turn(9, [{"op": "confirm_fact", "key": "a", "value": 1}, {"op": "flag", "name": "x"}])]
    decision = decide("automatic_merge", batch, changes_since([restore], {}))
    assert decision.verdict == "refuse" and decision.conflicts == {"fact:a": None}
    assert decide("automatic_merge", [new_turn(9, [{"op": "flag", "name": "x"}])],
                  changes_since([restore], {})).verdict == "append"


def _hash(state: SessionState) -> str:
    from lifeline_events import content_hash
    return content_hash(state)
