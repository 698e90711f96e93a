"""The knobs of consolidation, as one frozen value the pure functions take (pure).

Separate from ``settings.py`` (environment parsing) so the domain never reads the
environment; ``settings_hash`` goes into every profile, so a profile says which
settings produced it and a settings change shows up as a new content hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .canonical import sha256_of
from .digest import ALGORITHM
from .rules import DEFAULT_RULES, ComplianceRule, rules_hash


@dataclass(frozen=True)
class Policy:
    half_life_days: float = 30.0
    max_sessions: int = 200
    top_k: int = 5
    min_sessions: int = 2
    min_occurrences: int = 3
    trend_ratio: float = 1.25
    dormant_after_sessions: int = 5
    fact_stale_days: float = 180.0
    evidence_per_item: int = 5
    max_bias_items: int = 5
    recent_flag_sessions: int = 3
    labels: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[ComplianceRule, ...] = DEFAULT_RULES

    @property
    def rules_hash(self) -> str:
        return rules_hash(self.rules)

    @property
    def severities(self) -> dict[str, str]:
        return {r.name: r.severity for r in self.rules}

    def rule_label(self, code: str) -> str | None:
        return next((r.label for r in self.rules if r.name == code and r.label), None)

    @property
    def settings_hash(self) -> str:
        return sha256_of(
            {
                "algorithm": ALGORITHM,
                "half_life_days": self.half_life_days,
                "max_sessions": self.max_sessions,
                "top_k": self.top_k,
                "min_sessions": self.min_sessions,
                "min_occurrences": self.min_occurrences,
                "trend_ratio": self.trend_ratio,
                "dormant_after_sessions": self.dormant_after_sessions,
                "fact_stale_days": self.fact_stale_days,
                "evidence_per_item": self.evidence_per_item,
                "max_bias_items": self.max_bias_items,
                "labels": dict(self.labels),
                "rules": self.rules_hash,
            }
        )
