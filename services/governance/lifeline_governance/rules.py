"""The decision-relevant settings as one frozen value, and its hash for the audit (pure).

`evaluate()` takes a `Rules`, never the settings object, so the pure rules can be
re-run later (`/v1/admin/lifecycle/verify`) on exactly the thresholds a decision was
made with; every decision and evaluation row stores `settings_hash`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Literal

import orjson

SrStatistic = Literal["point", "wilson_low", "wilson_high"]


@dataclass(frozen=True)
class Rules:
    """Thresholds of spec §B.10; the defaults are the seed's (ENTER_CONSECUTIVE=1, point SR)."""

    interval_s: int = 60
    window_s: int = 3600
    settle_s: int = 30
    min_calls: int = 50
    min_scored: int = 20
    promote_margin: float = 1.15
    hold_margin: float = 1.05
    promote_min_success_rate: float = 0.9
    enter_consecutive: int = 1
    sustain_evaluations: int = 5
    sustain_min_new_calls: int = 25
    primary_cooldown_s: int = 3600
    quarantine_success_rate: float = 0.7
    quarantine_min_calls: int = 20
    quarantine_consecutive: int = 2
    anomaly_drop: float = 2.0
    anomaly_min_welch_t: float = 0.0
    anomaly_cooldown_s: int = 3600
    anomaly_block_s: int = 7200
    anomaly_action: Literal["flag", "failover"] = "flag"
    promote_sr_statistic: SrStatistic = "point"
    quarantine_sr_statistic: SrStatistic = "point"
    latency_tolerance: float = 0.0
    bootstrap_min_quality: float = 5.0
    max_candidates: int = 2
    auto_register: bool = True
    auto_promote_unregistered: bool = False

    def as_json(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @cached_property
    def settings_hash(self) -> str:
        """SHA-256 of the canonical JSON of every decision-relevant setting."""
        return hashlib.sha256(orjson.dumps(self.as_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Rules:
        return cls(**data)  # type: ignore[arg-type]
