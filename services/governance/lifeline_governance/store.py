"""governance's reads and counter writes: snapshots for the rules, the evaluation rows.

State changes are `decisions.write`'s alone; this module only stores the counters the
rules keep (streaks, fresh-evidence mark, anomaly time) and what each tick saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


async def claim_ticks(
    conn: asyncpg.Connection, tenant: str, tick: int, rules_json: dict[str, Any], items: list[dict[str, Any]]
) -> set[str]:
    """Record what the tick saw per intent (`items`: intent, input, output_sha256); return
    the intents claimed now — the others were evaluated at this tick already."""
    rows = await conn.fetch(
        "INSERT INTO governance.tick_inputs (tenant_id, intent, tick, input, rules, output_sha256) "
        "SELECT $1, r.intent, $2, r.input, $3::jsonb, r.output_sha256 FROM jsonb_to_recordset($4::jsonb) "
        "AS r(intent text, input jsonb, output_sha256 text) ORDER BY r.intent "
        "ON CONFLICT DO NOTHING RETURNING intent",
        tenant,
        ts(tick),
        rules_json,
        items,
    )
    return {r["intent"] for r in rows}


def _counter_rows(ev: Evaluation, figures: Mapping[str, Figures]) -> list[dict[str, Any]]:
    verdicts = {v.model_id: v for v in ev.verdicts}
    rows = []
    for p in ev.placements:
        v = verdicts.get(p.model_id)
        f = figures.get(p.model_id)
        last = {
            "tick": datetime.fromtimestamp(ev.tick, UTC).isoformat(),
            "verdict": v.verdict if v else None,
            "reasons": list(v.reasons) if v else [],
            "window": f.as_json() if f else None,
            "inputs": v.inputs if v else {},
        }
        rows.append(
            {
                "intent": ev.intent,
                "model_id": p.model_id,
                "streak": p.streak,
                "enter_streak": p.enter_streak,
                "counted_until": p.counted_until,
                "quarantine_streak": p.quarantine_streak,
                "last_anomaly_at": p.last_anomaly_at,
                "last_eval": last,
            }
        )
    return rows


async def save_counters(
    conn: asyncpg.Connection, tenant: str, evaluated: Sequence[tuple[Evaluation, Mapping[str, Figures]]]
) -> None:
    """Every placement's counters and last figures after the tick (never the state), and one
    evaluation row per placement — two statements for the whole tenant."""
    counters = [row for ev, figures in evaluated for row in _counter_rows(ev, figures)]
    await conn.execute(
        "UPDATE governance.placements p SET streak = r.streak, enter_streak = r.enter_streak, "
        "counted_until = to_timestamp(r.counted_until), quarantine_streak = r.quarantine_streak, "
        "last_anomaly_at = to_timestamp(r.last_anomaly_at), last_eval = r.last_eval "
        "FROM jsonb_to_recordset($2::jsonb) AS r(intent text, model_id text, streak int, enter_streak int, "
        "counted_until bigint, quarantine_streak int, last_anomaly_at bigint, last_eval jsonb) "
        "WHERE p.tenant_id = $1 AND p.intent = r.intent AND p.model_id = r.model_id",
        tenant,
        counters,
    )
    rows = [
        {
            "intent": ev.intent,
            "model_id": v.model_id,
            "verdict": v.verdict,
            "reasons": list(v.reasons),
            "inputs": v.inputs,
            "tick": ev.tick,
            "settings_hash": ev.settings_hash,
        }
        for ev, _ in evaluated
        for v in ev.verdicts
    ]
    await conn.execute(
        "INSERT INTO governance.evaluations (tenant_id, intent, model_id, tick, verdict, reasons, inputs, "
        "settings_hash) SELECT $1, r.intent, r.model_id, to_timestamp(r.tick), r.verdict, "
        "ARRAY(SELECT jsonb_array_elements_text(r.reasons)), r.inputs, r.settings_hash "
        "FROM jsonb_to_recordset($2::jsonb) AS r(intent text, model_id text, verdict text, reasons jsonb, "
        "inputs jsonb, tick bigint, settings_hash text) ON CONFLICT DO NOTHING",
        tenant,
        rows,
    )
