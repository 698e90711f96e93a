"""The guards every rule has (spec §B.4.2): too little evidence is `inconclusive` (pure).

Each check returns None when it passes, else a `GuardFailure` naming the guard, the
value and the threshold — what a verdict's reason and a refused manual transition
(`respect_guards`) both print.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lifeline_governance.registry import Placement
from lifeline_governance.rules import Rules, SrStatistic
from lifeline_governance.samples import Counters
from lifeline_governance.windows import Figures

EMPTY = Figures.of(Counters(), 1.0)


@dataclass(frozen=True)
class GuardFailure:
    guard: str
    value: float | int | None
    threshold: float | int

    def __str__(self) -> str:
        return f"{self.guard}: {self.value} vs {self.threshold}"


def sr_statistic(f: Figures, statistic: SrStatistic) -> float | None:
    """The success rate a guard compares: the point estimate or a Wilson bound."""
    if f.success_rate is None:
        return None
    return {"point": f.success_rate, "wilson_low": f.wilson_low, "wilson_high": f.wilson_high}[statistic]


class Guards:
    """The sample, success-rate and risk guards over one tick's figures."""

    def __init__(self, rules: Rules, figures: Mapping[str, Figures]) -> None:
        self.rules = rules
        self._figures = figures

    def figures(self, model_id: str) -> Figures:
        return self._figures.get(model_id, EMPTY)

    def enough(self, model_id: str) -> GuardFailure | None:
        """MIN_CALLS outcomes and MIN_SCORED scores: what any comparison needs."""
        f = self.figures(model_id)
        if f.outcomes < self.rules.min_calls:
            return GuardFailure("min_calls", f.outcomes, self.rules.min_calls)
        if f.scored < self.rules.min_scored:
            return GuardFailure("min_scored", f.scored, self.rules.min_scored)
        return None

    def success(self, model_id: str) -> GuardFailure | None:
        """PROMOTE_MIN_SUCCESS_RATE on the configured statistic."""
        value = sr_statistic(self.figures(model_id), self.rules.promote_sr_statistic)
        if value is None or value < self.rules.promote_min_success_rate:
            return GuardFailure(
                "promote_min_success_rate",
                None if value is None else round(value, 4),
                self.rules.promote_min_success_rate,
            )
        return None

    def anomaly_block(self, placement: Placement, tick: int) -> GuardFailure | None:
        """No anomaly within ANOMALY_BLOCK_S (the "low risk" of the seed)."""
        at = placement.last_anomaly_at
        if at is not None and tick - at < self.rules.anomaly_block_s:
            return GuardFailure("anomaly_block_s", tick - at, self.rules.anomaly_block_s)
        return None

    def failover_ok(self, placement: Placement, tick: int) -> GuardFailure | None:
        return (
            self.enough(placement.model_id)
            or self.success(placement.model_id)
            or self.anomaly_block(placement, tick)
        )

    def may_promote(self, placement: Placement) -> bool:
        """Auto-seen models are tracked, never promoted, unless the operator allows it."""
        return placement.registered or self.rules.auto_promote_unregistered

    def quarantine_failing(self, model_id: str) -> tuple[bool, str]:
        """(failing, why): SR below QUARANTINE_SUCCESS_RATE over ≥ QUARANTINE_MIN_CALLS outcomes."""
        f = self.figures(model_id)
        value = sr_statistic(f, self.rules.quarantine_sr_statistic)
        if f.outcomes < self.rules.quarantine_min_calls or value is None:
            return False, ""
        if value < self.rules.quarantine_success_rate:
            return True, (
                f"success rate {value:.4f} < {self.rules.quarantine_success_rate} over {f.outcomes} outcomes"
            )
        return False, ""

    def latency(self, model_id: str, primary_id: str | None) -> GuardFailure | None:
        """p95(c) ≤ p95(P) × LATENCY_TOLERANCE when the tolerance is on (> 0)."""
        tol = self.rules.latency_tolerance
        if tol <= 0 or primary_id is None:
            return None
        mine, theirs = self.figures(model_id).latency_p95_ms, self.figures(primary_id).latency_p95_ms
        if mine is None or theirs is None or theirs < 0:
            return None
        if mine < 0 or mine > theirs * tol:
            return GuardFailure("latency_tolerance", mine, theirs * tol)
        return None
