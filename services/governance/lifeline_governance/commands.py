"""What an admin does by hand: transitions, registration, pins, freezes — each one audited.

Every command ends in `decisions.write`, so a manual change is a decision like the
job's: numbered, in the audit log, announced, and visible to every routing table. A
manual transition with an `Idempotency-Key` answers its original decisions again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from lifeline_governance import buckets, decisions, store
from lifeline_governance.errors import GuardFailedError
from lifeline_governance.evaluation import DECISION_NAMESPACE, Scalar
from lifeline_governance.guards import Guards
from lifeline_governance.metrics import observe_decisions
from lifeline_governance.records import DecisionRecord
from lifeline_governance.registry import IntentSnapshot, State, plan_manual, rank_key
from lifeline_governance.rules import Rules
from lifeline_governance.windows import Figures, align_tick, windows_at


@dataclass(frozen=True)
class TransitionRequest:
    intent: str
    to_state: State
    reason: str
    actor: str | None
    expected_state: State | None = None
    respect_guards: bool = False
    idempotency_key: str | None = None


def _decision_id(tenant: str, key: str | None, index: int) -> uuid.UUID:
    return uuid.uuid5(DECISION_NAMESPACE, f"{tenant}|manual|{key}|{index}") if key else uuid.uuid4()


async def _guards(conn: asyncpg.Connection, rules: Rules, snap: IntentSnapshot) -> tuple[Guards, int]:
    now = align_tick(time.time(), 1)
    current, previous = windows_at(now, rules.window_s, rules.settle_s)
    stats = (
        await buckets.window_stats(
            conn, snap.tenant_id, (current.start, current.end), previous.start, [snap.intent]
        )
    ).get(snap.intent, {})
    return Guards(rules, {m: Figures.of(s.current, snap.weight) for m, s in stats.items()}), now


async def transition(
    pool: asyncpg.Pool,
    rules: Rules,
    tenant: str,
    model_id: str,
    req: TransitionRequest,
    weights: dict[str, float],
) -> list[DecisionRecord]:
    """Apply a manual transition (with its swap or failover) as one set of decisions."""
    async with pool.acquire() as conn, conn.transaction():
        snap = (await store.snapshots(conn, tenant, [req.intent], weights))[req.intent]
        guards, now = await _guards(conn, rules, snap)
        placement = snap.placement(model_id)
        if req.respect_guards and placement is not None and req.to_state in ("CANDIDATE", "PRIMARY"):
            failed = (
                guards.enough(model_id) or guards.success(model_id) or guards.anomaly_block(placement, now)
            )
            if failed is not None:
                raise GuardFailedError(
                    f"guard {failed.guard} fails: {failed.value} vs {failed.threshold}",
                    guard=failed.guard,
                    value=failed.value,
                    threshold=failed.threshold,
                )
        heirs = sorted(
            (
                p
                for p in snap.placements
                if p.state in ("ACTIVE", "CANDIDATE") and guards.failover_ok(p, now) is None
            ),
            key=lambda p: rank_key(p.state, guards.figures(p.model_id).effective_score, p.model_id),
        )
        changes = plan_manual(
            snap,
            model_id,
            req.to_state,
            expected_state=req.expected_state,
            successors=[p.model_id for p in heirs],
        )
        records = []
        for index, change in enumerate(changes):
            rule = (
                "manual"
                if change.model_id == model_id
                else "manual:displaced"
                if change.to_state == "ACTIVE"
                else "manual:failover"
            )
            f = guards.figures(change.model_id)
            inputs: dict[str, Scalar] = {
                "rule": rule,
                "override": True,
                "actor": req.actor,
                "outcomes": f.outcomes,
                "success_rate": f.success_rate,
                "score_mean": f.score_mean,
                "effective_score": f.effective_score,
                "respect_guards": req.respect_guards,
                "requested_model_id": model_id,
                "settings_hash": rules.settings_hash,
            }
            records.append(
                DecisionRecord(
                    _decision_id(tenant, req.idempotency_key, index),
                    "override",
                    req.intent,
                    change.model_id,
                    change.from_state,
                    change.to_state,
                    rule,
                    req.reason,
                    inputs,
                    rules.settings_hash,
                    actor=req.actor,
                    effective_score=f.effective_score,
                    idempotency_key=req.idempotency_key,
                )
            )
        written = await decisions.write(conn, tenant, records, datetime.now(UTC))
    observe_decisions(written)
    return written


async def configure_intent(
    pool: asyncpg.Pool,
    rules: Rules,
    tenant: str,
    intent: str,
    *,
    frozen: bool | None,
    reason: str | None,
    weight: float | None,
    actor: str | None,
) -> None:
    """Freeze/unfreeze an intent or set its weight; audited as `freeze` / `configure`."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(
            "SELECT frozen, weight FROM governance.intents WHERE tenant_id = $1 AND intent = $2",
            tenant,
            intent,
        )
        await conn.execute(
            "INSERT INTO governance.intents (tenant_id, intent, frozen, frozen_reason, weight) "
            "VALUES ($1, $2, coalesce($3, false), $4, coalesce($5, 1.0)) "
            "ON CONFLICT (tenant_id, intent) DO UPDATE "
            "SET frozen = coalesce($3, intents.frozen), frozen_reason = coalesce($4, intents.frozen_reason), "
            "weight = coalesce($5, intents.weight)",
            tenant,
            intent,
            frozen,
            reason,
            weight,
        )
        records = []
        if frozen is not None and (old is None or old["frozen"] != frozen):
            records.append(
                DecisionRecord(
                    uuid.uuid4(),
                    "freeze",
                    intent,
                    None,
                    None,
                    None,
                    "freeze" if frozen else "unfreeze",
                    reason or "",
                    {"frozen": frozen},
                    rules.settings_hash,
                    actor=actor,
                )
            )
        if weight is not None and (old is None or old["weight"] != weight):
            records.append(
                DecisionRecord(
                    uuid.uuid4(),
                    "configure",
                    intent,
                    None,
                    None,
                    None,
                    "weight",
                    reason or "",
                    {"weight": weight},
                    rules.settings_hash,
                    actor=actor,
                )
            )
        await decisions.write(conn, tenant, records, datetime.now(UTC))
