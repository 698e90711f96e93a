"""governance's settings (`LIFELINE_GOVERNANCE_…`; README lists them), validated at start-up.

Every threshold of the rules is a setting so an operator — or a test — can shorten
windows, sustain and cool-downs; a value outside its range stops the service with an
error naming the setting.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lifeline_bus import CONSUMER_BATCH
from lifeline_governance.rules import Rules
from lifeline_servicekit import ServiceSettings

SrStat = Literal["point", "wilson_low", "wilson_high"]


class GovernanceSettings(ServiceSettings):
    """The LifecycleJob's timing, the rules' thresholds, routing and the consumer."""

    port: int = 8005
    governance_interval_s: int = Field(60, ge=1, le=86_400, description="LifecycleJob tick (aligned)")
    governance_window_s: int = Field(3600, ge=60, le=30 * 86_400, description="window length")
    governance_settle_s: int = Field(30, ge=0, le=3600, description="recent seconds left out (in flight)")
    governance_min_calls: int = Field(50, ge=1, description="outcome samples a comparison needs")
    governance_min_scored: int = Field(20, ge=1, description="scored samples an ES or anomaly needs")
    governance_promote_margin: float = Field(1.15, gt=1.0, le=10.0, description="Schmitt trigger: enter")
    governance_hold_margin: float = Field(1.05, gt=0.0, le=10.0, description="Schmitt trigger: hold")
    governance_promote_min_success_rate: float = Field(0.9, gt=0.0, le=1.0)
    governance_enter_consecutive: int = Field(1, ge=1, le=1000, description="ticks SHADOW→CANDIDATE needs")
    governance_sustain_evaluations: int = Field(5, ge=1, le=1000, description="CANDIDATE→PRIMARY streak")
    governance_sustain_min_new_calls: int = Field(25, ge=0, description="fresh outcomes per counted look")
    governance_primary_cooldown_s: int = Field(3600, ge=0, description="no automatic PRIMARY change sooner")
    governance_quarantine_success_rate: float = Field(0.7, gt=0.0, lt=1.0)
    governance_quarantine_min_calls: int = Field(20, ge=1)
    governance_quarantine_consecutive: int = Field(2, ge=1, le=1000)
    governance_anomaly_drop: float = Field(2.0, gt=0.0, le=10.0)
    governance_anomaly_min_welch_t: float = Field(0.0, ge=0.0, description="0 = the bare seed rule")
    governance_anomaly_cooldown_s: int = Field(3600, ge=0)
    governance_anomaly_block_s: int = Field(7200, ge=0)
    governance_anomaly_action: Literal["flag", "failover"] = "flag"
    governance_promote_sr_statistic: Literal["point", "wilson_low"] = "point"
    governance_quarantine_sr_statistic: Literal["point", "wilson_high"] = "point"
    governance_latency_tolerance: float = Field(0.0, ge=0.0, description="p95 guard factor; 0 = off")
    governance_bootstrap_min_quality: float = Field(5.0, ge=0.0, le=10.0)
    governance_max_candidates: int = Field(2, ge=1, le=100)
    governance_candidate_traffic: float = Field(0.1, ge=0.0, le=1.0, description="canary share")
    governance_auto_register: bool = True
    governance_auto_promote_unregistered: bool = False
    governance_intent_weights: dict[str, float] = Field(
        default_factory=dict, description="JSON default weights per intent"
    )
    governance_max_lag_events: int = Field(1000, ge=0, description="above it a tick is skipped")
    governance_routing_refresh_s: float = Field(2.0, gt=0, le=3600)
    governance_announce_interval_s: float = Field(5.0, gt=0, description="outbox sweep")
    governance_bucket_retention_days: int = Field(14, ge=1)
    governance_evaluation_retention_days: int = Field(30, ge=1)
    governance_consumer_max_records: int = Field(CONSUMER_BATCH, ge=1, le=10_000)
    governance_job_enabled: bool = Field(True, description="run the timer (the API can still run a tick)")

    @field_validator("governance_intent_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        for intent, weight in (value or {}).items():
            if not 0 < float(weight) <= 10:
                raise ValueError(
                    f"LIFELINE_GOVERNANCE_INTENT_WEIGHTS: weight of {intent!r} must be in (0, 10]"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GovernanceSettings:
        if self.governance_hold_margin > self.governance_promote_margin:
            raise ValueError("LIFELINE_GOVERNANCE_HOLD_MARGIN must be ≤ LIFELINE_GOVERNANCE_PROMOTE_MARGIN")
        if self.governance_window_s < self.governance_interval_s:
            raise ValueError("LIFELINE_GOVERNANCE_WINDOW_S must be ≥ LIFELINE_GOVERNANCE_INTERVAL_S")
        if self.governance_window_s % 60 or self.governance_settle_s >= self.governance_window_s:
            raise ValueError("LIFELINE_GOVERNANCE_WINDOW_S must be whole minutes and > SETTLE_S")
        return self

    def rules(self) -> Rules:
        """The decision-relevant settings (their hash goes into every decision)."""
        names = Rules.__dataclass_fields__
        return Rules(**{n: getattr(self, f"governance_{n}") for n in names})
