"""Writing decisions: numbered, applied to placements and history, in one transaction.

The tenant's counter row is locked (as ingest locks a session) so decision seqs are
gapless; each state change updates its placement *from the state it names* (a
concurrent change makes it a conflict, never a lost update), closes the model's open
history interval and opens the next. The partial unique index turns a racing second
PRIMARY into `PrimaryConflictError`. `NOTIFY governance_routing` tells every process's
routing table to reload once the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import asyncpg
import orjson

from lifeline_governance.errors import PrimaryConflictError, StateMismatchError
from lifeline_governance.records import DecisionRecord, event_for

CHANNEL = "governance_routing"

_INSERT = """
INSERT INTO governance.decisions (tenant_id, seq, decision_id, kind, tick, decided_at, intent, model_id,
    from_state, to_state, rule, reason, actor, inputs, settings_hash, idempotency_key, event)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17::jsonb)
"""


async def write(
    conn: asyncpg.Connection, tenant: str, records: Sequence[DecisionRecord], decided_at: datetime
) -> list[DecisionRecord]:
    """Number and store `records` (in applying order) inside the caller's transaction."""
    if not records:
        return []
    await conn.execute(
        "INSERT INTO governance.tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant
    )
    last = int(
        await conn.fetchval("SELECT last_seq FROM governance.tenants WHERE tenant_id = $1 FOR UPDATE", tenant)
    )
    written = []
    for record in records:
        last += 1
        rec = replace(record, seq=last, decided_at=decided_at)
        event = event_for(tenant, rec)
        await conn.execute(
            _INSERT,
            tenant,
            rec.seq,
            rec.decision_id,
            rec.kind,
            rec.tick,
            decided_at,
            rec.intent,
            rec.model_id,
            rec.from_state,
            rec.to_state,
            rec.rule,
            rec.reason,
            rec.actor,
            {**rec.inputs, **rec.extra},
            rec.settings_hash,
            rec.idempotency_key,
            orjson.loads(event.to_json_bytes()) if event is not None else None,
        )
        if rec.changes_state:
            await _apply(conn, tenant, rec)
        written.append(rec)
    await conn.execute("UPDATE governance.tenants SET last_seq = $2 WHERE tenant_id = $1", tenant, last)
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{tenant}:{last}")
    return written


async def _apply(conn: asyncpg.Connection, tenant: str, rec: DecisionRecord) -> None:
    at, key = rec.decided_at, (tenant, rec.intent, rec.model_id)
    try:
        if rec.from_state is None:
            await conn.execute(
                "INSERT INTO governance.models (tenant_id, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                tenant,
                rec.model_id,
            )
            await conn.execute(
                "INSERT INTO governance.placements (tenant_id, intent, model_id, state, since, since_seq) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                *key,
                rec.to_state,
                at,
                rec.seq,
            )
        else:
            done = await conn.execute(
                "UPDATE governance.placements SET state = $5, since = $6, since_seq = $7, streak = 0, "
                "enter_streak = 0, quarantine_streak = 0 "
                "WHERE tenant_id = $1 AND intent = $2 AND model_id = $3 AND state = $4",
                *key,
                rec.from_state,
                rec.to_state,
                at,
                rec.seq,
            )
            if done.endswith(" 0"):
                raise StateMismatchError(
                    f"'{rec.model_id}' is no longer {rec.from_state} for '{rec.intent}'",
                    expected_state=rec.from_state,
                )
    except asyncpg.UniqueViolationError as exc:
        raise PrimaryConflictError(
            f"'{rec.intent}' already has a PRIMARY (a concurrent change won)", state="PRIMARY"
        ) from exc
    await conn.execute(
        "UPDATE governance.state_history SET valid_to = $4, to_seq = $5 "
        "WHERE tenant_id = $1 AND intent = $2 AND model_id = $3 AND valid_to IS NULL",
        *key,
        at,
        rec.seq,
    )
    await conn.execute(
        "INSERT INTO governance.state_history (tenant_id, intent, model_id, state, valid_from, from_seq) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        *key,
        rec.to_state,
        at,
        rec.seq,
    )
    if "PRIMARY" in (rec.from_state, rec.to_state):
        await conn.execute(
            "INSERT INTO governance.intents (tenant_id, intent, last_primary_change_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (tenant_id, intent) DO UPDATE SET "
            "last_primary_change_at = EXCLUDED.last_primary_change_at",
            tenant,
            rec.intent,
            rec.tick or at,
        )
