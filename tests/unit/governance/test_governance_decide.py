"""The lifecycle rules of spec §B.4.3 on hand-made windows (pure, no I/O)."""

from __future__ import annotations

from dataclasses import replace

from lifeline_governance.decide import evaluate
from lifeline_governance.registry import Placement

from .governance_builders import RULES, T0, counters, run_ticks, snapshot, states, stats

GOOD = counters(100, 0.95, 6.0)
BETTER = counters(100, 0.96, 8.0)  # ES 7.68 vs 5.7: ratio 1.347


def test_a_better_shadow_becomes_candidate_on_one_tick() -> None:
    """SHADOW → CANDIDATE when ES > PRIMARY × 1.15 with enough calls (ENTER_CONSECUTIVE = 1)."""
    snap = snapshot(("a", "PRIMARY"), ("b", "SHADOW"))
    ev = evaluate(snap, {"a": stats(GOOD), "b": stats(BETTER)}, T0, RULES)
    assert [(d.model_id, d.from_state, d.to_state, d.rule) for d in ev.decisions] == [
        ("b", "SHADOW", "CANDIDATE", "promote_shadow")
    ]
    assert ev.decisions[0].inputs["settings_hash"] == RULES.settings_hash


def test_a_shadow_under_the_margin_or_with_too_few_calls_stays() -> None:
    """1.10× is not enough, and 49 outcomes are inconclusive whatever the scores."""
    close = counters(100, 0.95, 6.6)  # ratio 1.10
    snap = snapshot(("a", "PRIMARY"), ("b", "SHADOW"))
    ev = evaluate(snap, {"a": stats(GOOD), "b": stats(close)}, T0, RULES)
    assert ev.decisions == ()
    few = counters(49, 1.0, 10.0)
    ev = evaluate(snapshot(("a", "PRIMARY"), ("b", "SHADOW")), {"a": stats(GOOD), "b": stats(few)}, T0, RULES)
    assert ev.decisions == ()
    assert {v.model_id: v.verdict for v in ev.verdicts}["b"] == "inconclusive"


def test_a_primary_with_too_little_data_makes_the_comparison_inconclusive() -> None:
    """No win for the challenger against a PRIMARY nobody has measured."""
    ev = evaluate(
        snapshot(("a", "PRIMARY"), ("b", "SHADOW")),
        {"a": stats(counters(10, 1.0, 1.0)), "b": stats(BETTER)},
        T0,
        RULES,
    )
    assert ev.decisions == ()
    verdict = {v.model_id: v for v in ev.verdicts}["b"]
    assert verdict.verdict == "inconclusive" and "primary_insufficient_data" in verdict.reasons[0]


def test_a_candidate_is_promoted_after_the_sustain_and_the_old_primary_becomes_active() -> None:
    """Five counted looks, then one swap: the displaced PRIMARY → ACTIVE first, in the same tick."""
    snap = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"))
    end, evs = run_ticks(snap, [{"a": stats(GOOD), "b": stats(BETTER)}] * 5)
    assert [e.decisions for e in evs[:4]] == [()] * 4
    assert [(d.model_id, d.to_state, d.rule) for d in evs[4].decisions] == [
        ("a", "ACTIVE", "displaced"),
        ("b", "PRIMARY", "promote_candidate"),
    ]
    assert states(end) == {"a": "ACTIVE", "b": "PRIMARY"}
    assert evs[4].decisions[1].inputs["displaced_model_id"] == "a"


def test_sustain_counts_only_looks_with_fresh_evidence() -> None:
    """Without 25 new outcomes a look is `waiting_fresh_evidence` and the streak does not grow."""
    snap = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"))
    end, evs = run_ticks(snap, [{"a": stats(GOOD), "b": stats(BETTER, fresh=24)}] * 8)
    assert all(e.decisions == () for e in evs)
    assert {v.model_id: v.verdict for v in evs[-1].verdicts}["b"] == "waiting_fresh_evidence"
    assert {p.model_id: p.streak for p in end.placements}["b"] == 0


def test_hysteresis_holds_between_the_margins_and_resets_below() -> None:
    """1.10 holds the streak, 1.00 resets it: 1.20 ↔ 1.00 never promotes."""
    held = counters(100, 0.95, 6.6)
    low = counters(100, 0.95, 6.0)
    snap = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"))
    ticks = [{"a": stats(GOOD), "b": stats(BETTER)}] * 2 + [{"a": stats(GOOD), "b": stats(held)}]
    end, _ = run_ticks(snap, ticks)
    assert {p.model_id: p.streak for p in end.placements}["b"] == 2
    end, evs = run_ticks(snap, [{"a": stats(GOOD), "b": stats(BETTER if i % 2 else low)} for i in range(20)])
    assert all(e.decisions == () for e in evs)


def test_the_cool_down_blocks_a_second_primary_change() -> None:
    """A promotion waits until PRIMARY_COOLDOWN_S after the last PRIMARY change."""
    rules = replace(RULES, primary_cooldown_s=3600)
    snap = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"), last_primary_change_at=T0 - 600)
    _, evs = run_ticks(snap, [{"a": stats(GOOD), "b": stats(BETTER)}] * 6, rules)
    assert all(e.decisions == () for e in evs)
    assert {v.model_id: v.verdict for v in evs[-1].verdicts}["b"] == "blocked_cooldown"


def test_quarantine_needs_two_consecutive_failing_ticks_and_fails_over() -> None:
    """SR 0.6 over ≥ 20 outcomes twice → QUARANTINED; the ACTIVE model becomes PRIMARY at once."""
    failing = counters(100, 0.6, 8.0)
    snap = snapshot(("a", "ACTIVE"), ("b", "PRIMARY"))
    end, evs = run_ticks(snap, [{"a": stats(GOOD), "b": stats(failing)}] * 2)
    assert evs[0].decisions == ()
    assert [(d.model_id, d.from_state, d.to_state, d.rule) for d in evs[1].decisions] == [
        ("b", "PRIMARY", "QUARANTINED", "quarantine"),
        ("a", "ACTIVE", "PRIMARY", "failover"),
    ]
    assert states(end) == {"a": "PRIMARY", "b": "QUARANTINED"}


def test_a_blip_does_not_quarantine() -> None:
    """One failing tick between good ones resets the quarantine streak."""
    failing, fine = counters(100, 0.6, 8.0), counters(100, 0.9, 8.0)
    _, evs = run_ticks(snapshot(("b", "PRIMARY")), [{"b": stats(x)} for x in (failing, fine, failing, fine)])
    assert all(e.decisions == () for e in evs)


def test_quarantine_needs_enough_outcomes() -> None:
    """19 outcomes at 0 % success are not evidence enough for a terminal state."""
    _, evs = run_ticks(snapshot(("b", "PRIMARY")), [{"b": stats(counters(19, 0.0, 8.0))}] * 5)
    assert all(e.decisions == () for e in evs)


def test_anomaly_fires_at_a_drop_of_exactly_two_and_not_below() -> None:
    """drop = 2.0 fires, 1.999 does not (exact integer comparison)."""
    snap = snapshot(("a", "PRIMARY"))
    fired = evaluate(snap, {"a": stats(counters(100, 0.95, 6.0), counters(100, 0.95, 8.0))}, T0, RULES)
    assert [(d.kind, d.model_id) for d in fired.decisions] == [("anomaly", "a")]
    assert fired.decisions[0].anomaly is not None and fired.decisions[0].anomaly["drop"] == 2.0
    quiet = evaluate(snap, {"a": stats(counters(100, 0.95, 6.001), counters(100, 0.95, 8.0))}, T0, RULES)
    assert quiet.decisions == ()


def test_an_anomaly_resets_the_streak_blocks_promotion_and_cools_down() -> None:
    """After an anomaly a candidate is not promoted for ANOMALY_BLOCK_S; the anomaly fires once."""
    snap = snapshot(("a", "PRIMARY"), Placement("b", "CANDIDATE", T0 - 86400, 1, streak=4))
    dropped = stats(counters(100, 0.96, 8.0), counters(100, 0.96, 10.0))
    _, evs = run_ticks(snap, [{"a": stats(GOOD), "b": dropped}] * 8)
    kinds = [d.kind for e in evs for d in e.decisions]
    assert kinds == ["anomaly"]
    assert {v.model_id: v.verdict for v in evs[-1].verdicts}["b"] == "blocked_anomaly"


def test_a_frozen_intent_only_records_what_it_would_do() -> None:
    """Freeze stops every automatic transition; the verdict says would_…; anomalies still fire."""
    snap = snapshot(("a", "PRIMARY"), ("b", "SHADOW"), frozen=True)
    ev = evaluate(snap, {"a": stats(GOOD), "b": stats(BETTER)}, T0, RULES)
    assert ev.decisions == ()
    assert {v.model_id: v.verdict for v in ev.verdicts}["b"] == "frozen:would_promote_shadow"
    failing = counters(100, 0.5, 8.0)
    _, evs = run_ticks(snapshot(("a", "PRIMARY"), frozen=True), [{"a": stats(failing)}] * 3)
    assert all(e.decisions == () for e in evs)
    assert evs[-1].verdicts[0].verdict == "frozen:would_quarantine"


def test_models_seen_but_never_registered_are_tracked_and_never_promoted() -> None:
    """Auto-registration in SHADOW (registered=false); never promoted by default."""
    snap = snapshot(("a", "PRIMARY"))
    end, evs = run_ticks(snap, [{"a": stats(GOOD), "x": stats(counters(200, 1.0, 10.0))}] * 3)
    assert [(d.kind, d.model_id, d.to_state) for d in evs[0].decisions] == [("register", "x", "SHADOW")]
    assert all(e.decisions == () for e in evs[1:])
    assert states(end)["x"] == "SHADOW"


def test_without_a_primary_a_candidate_bootstraps_on_quality() -> None:
    """An intent that never had a PRIMARY promotes its candidate on Q ≥ BOOTSTRAP_MIN_QUALITY."""
    end, evs = run_ticks(snapshot(("b", "CANDIDATE")), [{"b": stats(BETTER)}] * 5)
    assert states(end) == {"b": "PRIMARY"}
    assert evs[-1].decisions[0].rule == "promote_candidate"


def test_equal_inputs_give_byte_identical_evaluations() -> None:
    """evaluate() is pure: same snapshot, windows, tick and rules → the same bytes."""
    snap = snapshot(("a", "PRIMARY"), ("b", "SHADOW"), ("c", "CANDIDATE"))
    inputs = {"a": stats(GOOD), "b": stats(BETTER), "c": stats(counters(80, 0.8, 7.0, sd=1.5))}
    assert evaluate(snap, inputs, T0, RULES).to_json() == evaluate(snap, dict(inputs), T0, RULES).to_json()


def test_anomaly_action_failover_hands_the_primary_role_to_a_qualified_successor() -> None:
    """ANOMALY_ACTION=failover: the anomalous PRIMARY steps down to ACTIVE, the best ACTIVE takes over."""
    rules = replace(RULES, anomaly_action="failover")
    snap = snapshot(("a", "PRIMARY"), ("b", "ACTIVE"))
    dropped = stats(counters(100, 0.95, 6.0), counters(100, 0.95, 9.0))
    ev = evaluate(snap, {"a": dropped, "b": stats(GOOD)}, T0, rules)
    assert [(d.kind, d.model_id, d.to_state) for d in ev.decisions] == [
        ("anomaly", "a", "PRIMARY"),
        ("transition", "a", "ACTIVE"),
        ("transition", "b", "PRIMARY"),
    ]
    alone = evaluate(snapshot(("a", "PRIMARY")), {"a": dropped}, T0, rules)
    assert [d.kind for d in alone.decisions] == ["anomaly"], "never leave an intent without a PRIMARY"


def test_the_latency_guard_blocks_a_slower_candidate_when_on() -> None:
    """LATENCY_TOLERANCE > 0: p95(c) must stay within p95(P) × tolerance."""
    slow = counters(100, 0.96, 8.0)
    slow.latency_hist[8] = 100  # 12.8 s
    fast = counters(100, 0.95, 6.0)
    fast.latency_hist[2] = 100  # 200 ms
    rules = replace(RULES, latency_tolerance=1.5)
    snap = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"))
    _, evs = run_ticks(snap, [{"a": stats(fast), "b": stats(slow)}] * 6, rules)
    assert all(e.decisions == () for e in evs)
    assert {v.model_id: v.verdict for v in evs[-1].verdicts}["b"] == "blocked_risk"
