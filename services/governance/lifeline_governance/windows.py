"""Aligned ticks, the two windows a tick looks at, and the figures of one window (pure).

Windows are built from integer per-minute buckets keyed by ingest's time, so the
same log always yields the same figures whatever the bus's batching was.
"""

from __future__ import annotations

from dataclasses import dataclass

from lifeline_governance.samples import LATENCY_BOUNDS_MS, Counters
from lifeline_governance.stats import mean_sd, wilson_interval


@dataclass(frozen=True)
class Window:
    """[start, end) in epoch seconds."""

    start: int
    end: int


def align_tick(now: float, interval_s: int) -> int:
    """The tick a moment belongs to: ⌊now / interval⌋ · interval."""
    return int(now) // interval_s * interval_s


def windows_at(tick: int, window_s: int, settle_s: int) -> tuple[Window, Window]:
    """(current, previous): the settle seconds before the tick are excluded (in flight), and
    the window ends on a whole minute, so it holds only buckets whose every event was
    recorded before its end — the sums a tick saw can be recomputed later (verify)."""
    end = (tick - settle_s) // 60 * 60
    return Window(end - window_s, end), Window(end - 2 * window_s, end - window_s)


def p95_ms(hist: list[int]) -> int | None:
    """Upper bound of the histogram bucket holding the 95th percentile (None: beyond 12.8 s
    or no latencies); -1 stands for ∞ on the wire."""
    total = sum(hist)
    if total == 0:
        return None
    rank = -(-95 * total // 100)  # ceil(0.95 · n)
    seen = 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else -1
    return -1


@dataclass(frozen=True)
class Figures:
    """What governance knows about one model for one intent in one window."""

    calls: int
    outcomes: int
    successes: int
    success_rate: float | None
    wilson_low: float
    wilson_high: float
    scored: int
    score_mean: float | None
    score_sd: float
    latency_p95_ms: int | None
    quality: float | None  # S̄ × SR
    effective_score: float | None  # S̄ × w × SR

    @classmethod
    def of(cls, c: Counters, weight: float) -> Figures:
        sr = c.successes / c.outcomes if c.outcomes else None
        low, high = wilson_interval(c.successes, c.outcomes)
        mean, sd = mean_sd(c.score_milli_sum, c.score_milli_sq, c.scored)
        score_mean = mean if c.scored else None
        quality = score_mean * sr if score_mean is not None and sr is not None else None
        es = quality * weight if quality is not None else None
        return cls(
            c.calls,
            c.outcomes,
            c.successes,
            sr,
            low,
            high,
            c.scored,
            score_mean,
            sd,
            p95_ms(c.latency_hist),
            quality,
            es,
        )

    def as_json(self) -> dict[str, object]:
        r = _round
        return {
            "calls": self.calls,
            "outcomes": self.outcomes,
            "successes": self.successes,
            "success_rate": r(self.success_rate),
            "wilson_95": [r(self.wilson_low), r(self.wilson_high)],
            "scored": self.scored,
            "score_mean": r(self.score_mean),
            "score_sd": r(self.score_sd),
            "latency_p95_ms": self.latency_p95_ms,
            "quality": r(self.quality),
            "effective_score": r(self.effective_score),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
