"""`evaluate()`: the lifecycle rules of spec §B.4.3 for one intent at one tick. Pure.

Order per tick: register unseen models → anomaly → quarantine → failover → promote
candidate (Schmitt trigger, fresh-evidence sustain, low risk, cool-down) → promote
shadow → a verdict per placement. Every rule has a sample guard; failing one is
`inconclusive`, never an action. A frozen intent records `frozen:would_<x>` instead of
acting (anomalies still fire). Decisions are listed in applying order (a demotion
before the promotion that replaces it).
"""

from __future__ import annotations

from collections.abc import Mapping

from lifeline_governance.evaluation import Evaluation, ModelStats, Verdict
from lifeline_governance.promote import promote_candidates, promote_shadows
from lifeline_governance.registry import TERMINAL, IntentSnapshot
from lifeline_governance.rules import Rules
from lifeline_governance.safety import anomaly, failover, quarantine, register_unseen
from lifeline_governance.tick import TickState


def evaluate(snap: IntentSnapshot, stats: Mapping[str, ModelStats], tick: int, rules: Rules) -> Evaluation:
    """The decisions, verdicts and new counters of one intent at `tick`; pure and total."""
    t = TickState(snap, stats, tick, rules)
    register_unseen(t)
    for model_id in sorted(t.places):
        if t.places[model_id].state != TERMINAL:
            anomaly(t, model_id)
    quarantine(t)
    failover(t)
    promote_candidates(t)
    promote_shadows(t)
    verdicts = tuple(
        Verdict(
            m,
            *_verdict_of(t, m),
            inputs=t.inputs(
                m, "evaluate", state=t.places[m].state, streak=t.places[m].streak, **t.extra.get(m, {})
            ),
        )
        for m in sorted(t.places)
    )
    return Evaluation(
        snap.tenant_id,
        snap.intent,
        tick,
        rules.settings_hash,
        tuple(t.decisions),
        verdicts,
        tuple(t.places[m] for m in sorted(t.places)),
        t.last_primary_change,
    )


def _verdict_of(t: TickState, model_id: str) -> tuple[str, tuple[str, ...]]:
    verdict, reasons = t.verdicts.get(model_id, ("none", []))
    if t.places[model_id].state == TERMINAL and model_id not in t.verdicts:
        verdict = "quarantined"
    return verdict, tuple(reasons)
