"""Invariants over random tick sequences (hypothesis): the state machine can never be
driven into two PRIMARYs, out of QUARANTINED, or into a transition below a guard."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_governance.decide import evaluate
from lifeline_governance.evaluation import ModelStats
from lifeline_governance.registry import Change, IntentSnapshot, Placement, fold
from lifeline_governance.rules import Rules

from .governance_builders import T0, advance, counters

MODELS = ("a", "b", "c", "d")
RULES = Rules(
    primary_cooldown_s=120,
    sustain_evaluations=2,
    min_calls=30,
    min_scored=10,
    quarantine_min_calls=20,
    anomaly_cooldown_s=120,
    anomaly_block_s=180,
)

window = st.builds(
    counters,
    outcomes=st.integers(0, 200),
    success_rate=st.floats(0, 1),
    score=st.floats(0, 10),
    sd=st.sampled_from([0.0, 0.5, 2.0]),
)
tick_stats = st.dictionaries(
    st.sampled_from(MODELS), st.builds(ModelStats, window, window, st.integers(0, 100)), max_size=4
)
initial = st.lists(st.sampled_from(["SHADOW", "CANDIDATE", "ACTIVE", "QUARANTINED"]), min_size=4, max_size=4)


def _snapshot(init: list[str], primary: bool, frozen: bool) -> IntentSnapshot:
    places = [Placement(m, s, T0 - 86400, 1) for m, s in zip(MODELS, init, strict=True)]  # type: ignore[arg-type]
    if primary:
        places[0] = replace(places[0], state="PRIMARY")
    return IntentSnapshot("default", "pricing", 1.0, frozen, None, tuple(places))


@settings(max_examples=150, deadline=None)
@given(initial, st.booleans(), st.booleans(), st.lists(tick_stats, min_size=1, max_size=12))
def test_no_tick_sequence_breaks_the_invariants(
    init: list[str], primary: bool, frozen: bool, ticks: list[dict[str, ModelStats]]
) -> None:
    """≤ 1 PRIMARY, nothing leaves QUARANTINED, placements = fold(decisions), no move below guards."""
    snap = _snapshot(init, primary, frozen)
    log = [Change(p.model_id, None, "SHADOW") for p in snap.placements]
    log += [Change(p.model_id, "SHADOW", p.state) for p in snap.placements if p.state != "SHADOW"]
    for index, stats in enumerate(ticks):
        before = {p.model_id: p.state for p in snap.placements}
        ev = evaluate(snap, stats, T0 + 60 * index, RULES)
        snap = advance(snap, ev)
        after = {p.model_id: p.state for p in snap.placements}
        assert sum(1 for s in after.values() if s == "PRIMARY") <= 1
        for model_id, state in before.items():
            if state == "QUARANTINED":
                assert after[model_id] == "QUARANTINED"
        for d in ev.state_changes:
            log.append(Change(d.model_id, d.from_state, d.to_state))  # type: ignore[arg-type]
            if d.to_state in ("CANDIDATE", "PRIMARY") and d.rule != "displaced":
                assert d.inputs["outcomes"] >= RULES.min_calls  # type: ignore[operator]
            if d.to_state == "QUARANTINED":
                assert d.inputs["outcomes"] >= RULES.quarantine_min_calls  # type: ignore[operator]
        if frozen:
            assert all(d.kind in ("anomaly", "register") for d in ev.decisions)
        assert fold(log) == after


@settings(max_examples=60, deadline=None)
@given(initial, st.lists(tick_stats, min_size=1, max_size=8))
def test_evaluation_is_byte_identical_for_equal_inputs(
    init: list[str], ticks: list[dict[str, ModelStats]]
) -> None:
    """Running the same ticks twice gives the same bytes at every step."""
    first = second = _snapshot(init, True, False)
    for index, stats in enumerate(ticks):
        a = evaluate(first, stats, T0 + 60 * index, RULES)
        b = evaluate(second, {k: replace(v) for k, v in stats.items()}, T0 + 60 * index, RULES)
        assert a.to_json() == b.to_json()
        first, second = advance(first, a), advance(second, b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=4, max_size=30))
def test_automatic_primary_changes_respect_the_cool_down(pattern: list[bool]) -> None:
    """Outside failover, two PRIMARY changes are at least PRIMARY_COOLDOWN_S apart."""
    good, better = counters(100, 0.95, 6.0), counters(100, 0.96, 8.0)
    snap = _snapshot(["PRIMARY", "CANDIDATE", "CANDIDATE", "SHADOW"], True, False)
    changes: list[int] = []
    for index, flip in enumerate(pattern):
        stats = {
            "a": ModelStats(better if flip else good, better if flip else good, 100),
            "b": ModelStats(good if flip else better, good if flip else better, 100),
            "c": ModelStats(better, better, 100),
        }
        ev = evaluate(snap, stats, T0 + 60 * index, RULES)
        snap = advance(snap, ev)
        if any(d.rule == "promote_candidate" for d in ev.decisions):
            changes.append(T0 + 60 * index)
    assert all(b - a >= RULES.primary_cooldown_s for a, b in itertools.pairwise(changes))
