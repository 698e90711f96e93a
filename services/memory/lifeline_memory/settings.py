"""memory's settings (LIFELINE_ prefix; see README), validated at start-up.

A bad compliance rule or label map stops the process with the setting named, rather
than silently never flagging anything.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from lifeline_bus import CONSUMER_BATCH
from lifeline_memory.policy import Policy
from lifeline_memory.rules import DEFAULT_RULES_CONFIG, RuleConfigError, parse_rules
from lifeline_servicekit import ServiceSettings


class MemorySettings(ServiceSettings):
    """Consolidation knobs, consumer and read behaviour of the memory service."""

    port: int = 8004
    memory_half_life_days: float = Field(
        30.0, gt=0, le=36_500, description="recency half-life, relative to the person's latest session"
    )
    memory_max_sessions: int = Field(200, ge=1, le=10_000, description="most recent sessions a profile folds")
    memory_top_k: int = Field(5, ge=1, le=64, description="codes in top_errors / top_strengths / skill_tags")
    memory_min_sessions: int = Field(2, ge=1, description="sessions a code needs to be frequent")
    memory_min_occurrences: int = Field(3, ge=1, description="or turns a code needs to be frequent")
    memory_trend_ratio: float = Field(1.25, gt=1.0, le=100, description="worsening / improving threshold")
    memory_dormant_after_sessions: int = Field(5, ge=1, description="unseen this many sessions: dormant")
    memory_fact_stale_days: float = Field(180.0, gt=0, description="facts not reconfirmed: stale")
    memory_max_bias_items: int = Field(5, ge=1, le=5, description="items in the bias")
    memory_evidence_per_item: int = Field(5, ge=1, le=64, description="evidence references in the profile")
    memory_compliance_rules: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(r) for r in DEFAULT_RULES_CONFIG],
        description="JSON list of compliance detectors",
    )
    memory_labels: dict[str, str] = Field(default_factory=dict, description="code → phrase used in texts")
    memory_versions_keep: int = Field(50, ge=1, description="full profile versions kept")
    memory_read_wait_ms: int = Field(5000, ge=0, le=60_000, description="longest ?after_session= wait")
    memory_sweep_interval_s: float = Field(5.0, gt=0, description="dirty persons / unannounced sweep")
    memory_consumer_max_records: int = Field(CONSUMER_BATCH, ge=1, le=10_000, description="bus batch")
    http_timeout_s: float = Field(10.0, gt=0, description="towards ingest (catch-up, rebuild)")

    @field_validator("memory_compliance_rules", "memory_labels", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else value
        return value

    @field_validator("memory_compliance_rules")
    @classmethod
    def _rules(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            parse_rules(value)
        except RuleConfigError as exc:
            raise ValueError(f"LIFELINE_MEMORY_COMPLIANCE_RULES: {exc}") from None
        return value

    @field_validator("memory_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k, v in value.items() if not k or len(k) > 64 or len(v) > 200]
        if bad:
            raise ValueError(f"LIFELINE_MEMORY_LABELS: codes ≤ 64 and phrases ≤ 200 characters ({bad[:3]})")
        return value

    def policy(self) -> Policy:
        return Policy(
            half_life_days=self.memory_half_life_days,
            max_sessions=self.memory_max_sessions,
            top_k=self.memory_top_k,
            min_sessions=self.memory_min_sessions,
            min_occurrences=self.memory_min_occurrences,
            trend_ratio=self.memory_trend_ratio,
            dormant_after_sessions=self.memory_dormant_after_sessions,
            fact_stale_days=self.memory_fact_stale_days,
            evidence_per_item=self.memory_evidence_per_item,
            max_bias_items=self.memory_max_bias_items,
            labels=dict(self.memory_labels),
            rules=parse_rules(self.memory_compliance_rules),
        )
