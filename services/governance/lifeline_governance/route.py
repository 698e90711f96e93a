"""Which model to use for an intent: the written, total match order of spec §B.7 (pure).

1. the intent's PRIMARY (or its canary, when `sample_key` falls in the canary's share)
   → `matched: <intent>`;
2. no PRIMARY: the intent's best ACTIVE by last EffectiveScore → `degraded: true`;
3. nothing usable for the intent: the global route `*`, same rules → `matched: "*"`;
4. nothing → None (the API answers 404).

Canary and mirror choices are `sha256("{tenant}|{intent}|{model}|{sample_key}") <
rate·2^64`, so the same key always gets the same answer, in every process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lifeline_governance.samples import GLOBAL_INTENT


@dataclass(frozen=True)
class RouteModel:
    model_id: str
    state: str
    since: str
    since_seq: int
    effective_score: float | None
    traffic: float  # canary share (CANDIDATE)
    shadow_rate: float  # mirror share (SHADOW)
    anomaly_at: str | None = None


@dataclass(frozen=True)
class IntentRoutes:
    intent: str
    models: tuple[RouteModel, ...]
    frozen: bool = False

    def of_state(self, state: str) -> list[RouteModel]:
        found = [m for m in self.models if m.state == state]
        return sorted(
            found, key=lambda m: (-(m.effective_score if m.effective_score is not None else -1), m.model_id)
        )


def sampled(tenant: str, intent: str, model_id: str, sample_key: str, rate: float) -> bool:
    """Deterministic Bernoulli(rate) draw for this key."""
    digest = hashlib.sha256(f"{tenant}|{intent}|{model_id}|{sample_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def _choose(routes: IntentRoutes) -> tuple[RouteModel, str, bool] | None:
    primary = routes.of_state("PRIMARY")
    if primary:
        return primary[0], "primary", False
    active = routes.of_state("ACTIVE")
    if active:
        return active[0], "fallback: no PRIMARY, best ACTIVE by EffectiveScore", True
    return None


def answer(
    tenant: str, intent: str, table: Mapping[str, IntentRoutes], as_of_seq: int, sample_key: str | None = None
) -> dict[str, Any] | None:
    """The routing answer for (tenant, intent), or None when nothing matches."""
    for matched in (intent, GLOBAL_INTENT):
        routes = table.get(matched)
        chosen = _choose(routes) if routes is not None else None
        if routes is None or chosen is None:
            continue
        model, reason, degraded = chosen
        canary = [m for m in routes.of_state("CANDIDATE") if m.traffic > 0] if not degraded else []
        mirror = [m for m in routes.of_state("SHADOW") if m.shadow_rate > 0]
        warnings = [f"anomaly on {model.model_id} at {model.anomaly_at}"] if model.anomaly_at else []
        if degraded:
            warnings.append(f"intent '{matched}' has no PRIMARY")
        body: dict[str, Any] = {
            "tenant_id": tenant,
            "intent": intent,
            "matched": matched,
            "model_id": model.model_id,
            "state": model.state,
            "reason": reason,
            "since": model.since,
            "decision_seq": model.since_seq,
            "effective_score": model.effective_score,
            "canary": [{"model_id": m.model_id, "traffic": m.traffic} for m in canary],
            "mirror": [{"model_id": m.model_id, "sample_rate": m.shadow_rate} for m in mirror],
            "fallbacks": [
                {"model_id": m.model_id, "state": m.state, "effective_score": m.effective_score}
                for m in routes.of_state("ACTIVE")
                if m.model_id != model.model_id
            ],
            "frozen": routes.frozen,
            "degraded": degraded,
            "warnings": warnings,
            "as_of_seq": as_of_seq,
        }
        if sample_key is not None:
            for m in canary:
                if sampled(tenant, matched, m.model_id, sample_key, m.traffic):
                    body.update(
                        model_id=m.model_id, state=m.state, reason="canary", effective_score=m.effective_score
                    )
                    break
            body["mirror_to"] = [
                m.model_id for m in mirror if sampled(tenant, matched, m.model_id, sample_key, m.shadow_rate)
            ]
        return body
    return None
