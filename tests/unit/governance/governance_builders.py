"""Builders for governance's unit tests: window sums with chosen figures, a tick driver."""

from __future__ import annotations

from dataclasses import replace

from lifeline_governance.decide import evaluate
from lifeline_governance.evaluation import Evaluation, ModelStats
from lifeline_governance.registry import IntentSnapshot, Placement, State
from lifeline_governance.rules import Rules
from lifeline_governance.samples import Counters

T0 = 1_800_000_000 // 60 * 60  # an aligned tick
RULES = Rules(primary_cooldown_s=0)


def counters(
    outcomes: int = 100,
    success_rate: float = 0.95,
    score: float = 8.0,
    scored: int | None = None,
    sd: float = 0.0,
) -> Counters:
    """Window sums with exactly these figures (scores alternate ± sd around the mean)."""
    n = outcomes if scored is None else scored
    successes = round(outcomes * success_rate)
    scores = [round((score + (sd if i % 2 else -sd if n > 1 else 0)) * 1000) for i in range(n)]
    if n % 2 == 1 and sd:
        scores[-1] = round(score * 1000)
    return Counters(
        calls=outcomes,
        outcomes=outcomes,
        successes=successes,
        scored=n,
        score_milli_sum=sum(scores),
        score_milli_sq=sum(s * s for s in scores),
    )


def stats(current: Counters, previous: Counters | None = None, fresh: int = 1000) -> ModelStats:
    return ModelStats(current, previous or current, fresh)


def snapshot(
    *placements: tuple[str, State] | Placement,
    frozen: bool = False,
    intent: str = "pricing",
    last_primary_change_at: int | None = None,
) -> IntentSnapshot:
    built = tuple(p if isinstance(p, Placement) else Placement(p[0], p[1], T0 - 86400, 1) for p in placements)
    return IntentSnapshot("default", intent, 1.0, frozen, last_primary_change_at, built)


def advance(snap: IntentSnapshot, ev: Evaluation) -> IntentSnapshot:
    """The snapshot the next tick sees: the evaluation's placements and cool-down."""
    return replace(snap, placements=ev.placements, last_primary_change_at=ev.last_primary_change_at)


def run_ticks(
    snap: IntentSnapshot,
    per_tick: list[dict[str, ModelStats]],
    rules: Rules = RULES,
    start: int = T0,
    step: int = 60,
) -> tuple[IntentSnapshot, list[Evaluation]]:
    evaluations = []
    for index, stats_now in enumerate(per_tick):
        ev = evaluate(snap, stats_now, start + index * step, rules)
        evaluations.append(ev)
        snap = advance(snap, ev)
    return snap, evaluations


def states(snap: IntentSnapshot) -> dict[str, str]:
    return {p.model_id: p.state for p in snap.placements}
