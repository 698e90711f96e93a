"""What one evaluation of one intent at one tick produces: decisions, verdicts, counters (pure).

Plain frozen values with a canonical JSON form, so equal inputs give byte-identical
output — what `/v1/admin/lifecycle/verify` compares, and what the audit stores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from lifeline_governance.registry import Placement, State
from lifeline_governance.samples import Counters

DECISION_NAMESPACE = uuid.UUID("0b6f8f4e-5d0a-4f59-9a53-3b1f2f5d9e61")

Scalar = bool | int | float | str | None


def iso(epoch_s: int | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_decision_id(tenant: str, intent: str, tick: int, rule: str, model_id: str) -> uuid.UUID:
    """The same tick, rule and model always make the same id: a re-run adds nothing."""
    return uuid.uuid5(DECISION_NAMESPACE, f"{tenant}|{intent}|{tick}|{rule}|{model_id}")


@dataclass(frozen=True)
class ModelStats:
    """A model's integer sums in the current and previous window, and the outcomes
    recorded since its last counted look (fresh evidence for the sustain)."""

    current: Counters = field(default_factory=Counters)
    previous: Counters = field(default_factory=Counters)
    fresh_outcomes: int = 0


@dataclass(frozen=True)
class Decision:
    """One audited row: a state change, a registration, or an anomaly (no state change)."""

    kind: str  # transition | anomaly | register
    rule: str
    model_id: str
    from_state: State | None
    to_state: State | None
    reason: str
    effective_score: float | None
    inputs: dict[str, Scalar]
    anomaly: dict[str, Any] | None = None


@dataclass(frozen=True)
class Verdict:
    """Why a placement did (or did not) move at this tick."""

    model_id: str
    verdict: str
    reasons: tuple[str, ...]
    inputs: dict[str, Scalar]


@dataclass(frozen=True)
class Evaluation:
    """The whole output of `evaluate()` for one intent and tick."""

    tenant_id: str
    intent: str
    tick: int
    settings_hash: str
    decisions: tuple[Decision, ...]
    verdicts: tuple[Verdict, ...]
    placements: tuple[Placement, ...]
    last_primary_change_at: int | None

    def to_json(self) -> bytes:
        return orjson.dumps(self, option=orjson.OPT_SORT_KEYS)  # orjson walks dataclasses itself

    @property
    def state_changes(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.kind in ("transition", "register"))
