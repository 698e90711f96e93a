"""governance's reads and counter writes: snapshots for the rules, the evaluation rows.

State changes are `decisions.write`'s alone; this module only stores the counters the
rules keep (streaks, fresh-evidence mark, anomaly time) and what each tick saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from lifeline_governance.evaluation import Evaluation
from lifeline_governance.registry import IntentSnapshot, Placement
from lifeline_governance.windows import Figures


def epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def ts(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


async def snapshots(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant: str,
    intents: Iterable[str],
    default_weights: Mapping[str, float],
) -> dict[str, IntentSnapshot]:
    """The rules' view of each intent: placements, counters, weight, freeze, cool-down."""
    wanted = sorted(set(intents))
    meta = {
        r["intent"]: r
        for r in await conn.fetch(
            "SELECT intent, weight, frozen, last_primary_change_at FROM governance.intents "
            "WHERE tenant_id = $1 AND intent = ANY($2::text[])",
            tenant,
            wanted,
        )
    }
    places: dict[str, list[Placement]] = {}
    for r in await conn.fetch(
        "SELECT p.*, coalesce(m.registered, false) AS registered FROM governance.placements p "
        "LEFT JOIN governance.models m USING (tenant_id, model_id) "
        "WHERE p.tenant_id = $1 AND p.intent = ANY($2::text[]) ORDER BY p.intent, p.model_id",
        tenant,
        wanted,
    ):
        places.setdefault(r["intent"], []).append(
            Placement(
                r["model_id"],
                r["state"],
                epoch(r["since"]) or 0,
                r["since_seq"],
                r["registered"],
                r["pinned"],
                r["streak"],
                r["enter_streak"],
                epoch(r["counted_until"]),
                r["quarantine_streak"],
                epoch(r["last_anomaly_at"]),
            )
        )
    out = {}
    for intent in wanted:
        m = meta.get(intent)
        weight = float(m["weight"]) if m else float(default_weights.get(intent, 1.0))
        out[intent] = IntentSnapshot(
            tenant,
            intent,
            weight,
            bool(m and m["frozen"]),
            epoch(m["last_primary_change_at"]) if m else None,
            tuple(places.get(intent, [])),
        )
    return out


async def intents_with_placements(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in await conn.fetch("SELECT DISTINCT tenant_id, intent FROM governance.placements"):
        out.setdefault(r["tenant_id"], set()).add(r["intent"])
    return out


async def tenants_with_buckets(conn: asyncpg.Connection | asyncpg.Pool, since: datetime) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT tenant_id FROM governance.call_buckets WHERE bucket >= $1", since
    )
    return {r["tenant_id"] for r in rows}


async def claim_tick(
    conn: asyncpg.Connection,
    ev: Evaluation,
    input_json: dict[str, Any],
    rules_json: dict[str, Any],
    output_sha256: str,
) -> bool:
    """Record what the tick saw; False when this (intent, tick) was already evaluated."""
    row = await conn.fetchval(
        "INSERT INTO governance.tick_inputs (tenant_id, intent, tick, input, rules, output_sha256) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) ON CONFLICT DO NOTHING RETURNING 1",
        ev.tenant_id,
        ev.intent,
        ts(ev.tick),
        input_json,
        rules_json,
        output_sha256,
    )
    return row is not None


async def save_counters(conn: asyncpg.Connection, ev: Evaluation, figures: Mapping[str, Figures]) -> None:
    """The counters and last figures of every placement after the tick (never the state)."""
    verdicts = {v.model_id: v for v in ev.verdicts}
    rows: list[tuple[Any, ...]] = []
    for p in ev.placements:
        v = verdicts.get(p.model_id)
        f = figures.get(p.model_id)
        last = {
            "tick": ts(ev.tick).isoformat() if ev.tick else None,  # type: ignore[union-attr]
            "verdict": v.verdict if v else None,
            "reasons": list(v.reasons) if v else [],
            "window": f.as_json() if f else None,
            "inputs": v.inputs if v else {},
        }
        rows.append(
            (
                ev.tenant_id,
                ev.intent,
                p.model_id,
                p.streak,
                p.enter_streak,
                ts(p.counted_until),
                p.quarantine_streak,
                ts(p.last_anomaly_at),
                last,
            )
        )
    await conn.executemany(
        "UPDATE governance.placements SET streak = $4, enter_streak = $5, counted_until = $6, "
        "quarantine_streak = $7, last_anomaly_at = $8, last_eval = $9::jsonb "
        "WHERE tenant_id = $1 AND intent = $2 AND model_id = $3",
        rows,
    )
    await conn.executemany(
        "INSERT INTO governance.evaluations (tenant_id, intent, model_id, tick, verdict, reasons, inputs, "
        "settings_hash) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) ON CONFLICT DO NOTHING",
        [
            (
                ev.tenant_id,
                ev.intent,
                v.model_id,
                ts(ev.tick),
                v.verdict,
                list(v.reasons),
                v.inputs,
                ev.settings_hash,
            )
            for v in ev.verdicts
        ],
    )
