"""The two named statistics governance reports (spec §B.4.4), textbook and total (pure).

Both return finite numbers for every input (no NaN or infinity can reach the wire:
payloads reject them), so callers never special-case an empty window.
"""

from __future__ import annotations

import math

Z95 = 1.96
T_CAP = 1e6


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a success rate; (0, 1) when there is no evidence."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_sd(milli_sum: int, milli_sq: int, n: int) -> tuple[float, float]:
    """Mean and sample standard deviation of scores kept as integer milli-sums."""
    if n <= 0:
        return 0.0, 0.0
    mean = milli_sum / (1000 * n)
    if n < 2:
        return mean, 0.0
    var_milli = (n * milli_sq - milli_sum * milli_sum) / (n * (n - 1))  # exact numerator
    return mean, math.sqrt(max(0.0, var_milli)) / 1000


def welch_t(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int) -> float:
    """Welch's t of `a − b`, capped at ±1e6 (two constant windows give an infinite t)."""
    if n_a <= 0 or n_b <= 0:
        return 0.0
    diff = mean_a - mean_b
    se = math.sqrt(sd_a * sd_a / n_a + sd_b * sd_b / n_b)
    if se == 0:
        return 0.0 if diff == 0 else math.copysign(T_CAP, diff)
    return max(-T_CAP, min(T_CAP, diff / se))
