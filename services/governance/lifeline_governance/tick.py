"""The working state of one evaluation: placements as they change, decisions, verdicts (pure).

`decide.evaluate` creates one per (intent, tick); the rule modules (`safety`, `promote`)
read figures through its guards and record changes through `change()`, which keeps the
placements, the audit inputs and the "PRIMARY changed this tick" flag consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from lifeline_governance.evaluation import Decision, ModelStats, Scalar, iso
from lifeline_governance.guards import Guards
from lifeline_governance.registry import Change, IntentSnapshot, Placement
from lifeline_governance.rules import Rules
from lifeline_governance.windows import Figures, windows_at


def rnd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class TickState:
    """Working state of one evaluation: placements as they change, decisions, verdicts."""

    def __init__(
        self, snap: IntentSnapshot, stats: Mapping[str, ModelStats], tick: int, rules: Rules
    ) -> None:
        self.snap, self.tick, self.rules = snap, tick, rules
        self.current, self.previous = windows_at(tick, rules.window_s, rules.settle_s)
        self.places: dict[str, Placement] = {p.model_id: p for p in snap.placements}
        self.stats = stats
        self.fig = {m: Figures.of(s.current, snap.weight) for m, s in stats.items()}
        self.g = Guards(rules, self.fig)
        self.decisions: list[Decision] = []
        self.verdicts: dict[str, tuple[str, list[str]]] = {}
        self.extra: dict[str, dict[str, Scalar]] = {}
        self.last_primary_change = snap.last_primary_change_at
        self.primary_changed = False

    def figures(self, model_id: str) -> Figures:
        return self.g.figures(model_id)

    def primary(self) -> Placement | None:
        return next((p for p in self.places.values() if p.state == "PRIMARY"), None)

    def verdict(self, model_id: str, verdict: str, *reasons: str) -> None:
        self.verdicts[model_id] = (verdict, list(reasons))

    def inputs(self, model_id: str, rule: str, **more: Scalar) -> dict[str, Scalar]:
        f = self.figures(model_id)
        return {
            "rule": rule,
            "tick": iso(self.tick),
            "window_s": self.rules.window_s,
            "calls": f.calls,
            "outcomes": f.outcomes,
            "successes": f.successes,
            "success_rate": rnd(f.success_rate),
            "wilson_low": rnd(f.wilson_low),
            "wilson_high": rnd(f.wilson_high),
            "scored": f.scored,
            "score_mean": rnd(f.score_mean),
            "score_sd": rnd(f.score_sd),
            "latency_p95_ms": f.latency_p95_ms,
            "intent_weight": self.snap.weight,
            "effective_score": rnd(f.effective_score),
            "settings_hash": self.rules.settings_hash,
            **more,
        }

    def change(self, change: Change, rule: str, reason: str, **more: Scalar) -> None:
        f = self.figures(change.model_id)
        self.decisions.append(
            Decision(
                kind="register" if change.from_state is None else "transition",
                rule=rule,
                model_id=change.model_id,
                from_state=change.from_state,
                to_state=change.to_state,
                reason=reason[:500],
                effective_score=rnd(f.effective_score),
                inputs=self.inputs(change.model_id, rule, **more),
            )
        )
        old = self.places.get(change.model_id)
        if old is None:
            self.places[change.model_id] = Placement(
                change.model_id, change.to_state, self.tick, 0, registered=False
            )
        else:
            self.places[change.model_id] = replace(
                old, state=change.to_state, since=self.tick, streak=0, enter_streak=0, quarantine_streak=0
            )
        if "PRIMARY" in (change.from_state, change.to_state):
            self.last_primary_change, self.primary_changed = self.tick, True
