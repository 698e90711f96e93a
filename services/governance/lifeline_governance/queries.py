"""Read models of the API: models with their evidence, history, audit, and PRIMARY-at-T."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from lifeline_governance.samples import GLOBAL_INTENT


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _vs_primary(
    model_id: str, place: dict[str, Any], primary_id: str | None, primary: dict[str, Any] | None
) -> dict[str, Any] | None:
    """How a placement compares with its intent's PRIMARY, and the last verdict in words."""
    if primary is None or primary_id is None or primary_id == model_id:
        return None
    mine = (place.get("window") or {}).get("effective_score")
    theirs = (primary.get("window") or {}).get("effective_score")
    ratio = round(mine / theirs, 4) if mine is not None and theirs else None
    verdict = place.get("verdict") or "not evaluated yet"
    if place.get("reasons"):
        verdict = f"{verdict}: {'; '.join(place['reasons'])}"
    return {"model_id": primary_id, "effective_score": theirs, "ratio": ratio, "verdict": verdict}


async def models(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    model_id: str | None = None,
    intent: str | None = None,
    state: str | None = None,
    sustain: int = 5,
) -> list[dict[str, Any]]:
    """Models of a tenant with every placement's state, streaks and last window figures."""
    rows = await pool.fetch(
        "SELECT m.model_id, m.display_name, m.provider, m.metadata, m.registered, m.version, "
        "p.intent, p.state, p.since, p.since_seq, p.pinned, p.shadow_rate, p.canary_traffic, p.streak, "
        "p.quarantine_streak, p.last_anomaly_at, p.last_eval, coalesce(i.weight, 1.0) AS weight, "
        "coalesce(i.frozen, false) AS frozen "
        "FROM governance.models m LEFT JOIN governance.placements p USING (tenant_id, model_id) "
        "LEFT JOIN governance.intents i USING (tenant_id, intent) "
        "WHERE m.tenant_id = $1 AND ($2::text IS NULL OR m.model_id = $2) ORDER BY m.model_id, p.intent",
        tenant,
        model_id,
    )
    primary_rows = await pool.fetch(
        "SELECT intent, model_id, last_eval FROM governance.placements "
        "WHERE tenant_id = $1 AND state = 'PRIMARY'",
        tenant,
    )
    primaries = {r["intent"]: r["model_id"] for r in primary_rows}
    primary_figures = {
        r["intent"]: {"window": (_json(r["last_eval"]) or {}).get("window")} for r in primary_rows
    }
    placements_by_intent: dict[str, dict[str, dict[str, Any]]] = {}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        model = out.setdefault(
            r["model_id"],
            {
                "model_id": r["model_id"],
                "tenant_id": tenant,
                "display_name": r["display_name"],
                "provider": r["provider"],
                "metadata": _json(r["metadata"]),
                "registered": r["registered"],
                "version": r["version"],
                "placements": [],
            },
        )
        if r["intent"] is None:
            continue
        last = _json(r["last_eval"]) or {}
        place = {
            "intent": r["intent"],
            "state": r["state"],
            "since": r["since"].isoformat(),
            "since_seq": r["since_seq"],
            "pinned": r["pinned"],
            "shadow_rate": r["shadow_rate"],
            "canary_traffic": r["canary_traffic"],
            "streak": r["streak"],
            "sustain_required": sustain,
            "quarantine_streak": r["quarantine_streak"],
            "frozen": r["frozen"],
            "last_anomaly_at": r["last_anomaly_at"].isoformat() if r["last_anomaly_at"] else None,
            "window": ({**last["window"], "intent_weight": r["weight"]} if last.get("window") else None),
            "verdict": last.get("verdict"),
            "reasons": last.get("reasons", []),
            "evaluated_at": last.get("tick"),
        }
        placements_by_intent.setdefault(r["intent"], {})[r["model_id"]] = place
        model["placements"].append(place)
    for name, by_model in placements_by_intent.items():
        primary_id = primaries.get(name)
        for owner, place in by_model.items():
            place["vs_primary"] = _vs_primary(owner, place, primary_id, primary_figures.get(name))
    result = list(out.values())
    if intent is not None or state is not None:
        for m in result:
            m["placements"] = [
                p
                for p in m["placements"]
                if (intent is None or p["intent"] == intent) and (state is None or p["state"] == state)
            ]
        result = [m for m in result if m["placements"]]
    return result


async def decision_rows(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    intent: str | None = None,
    model_id: str | None = None,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
    idempotency_key: str | None = None,
    decision_id: str | None = None,
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT seq, decision_id, kind, tick, decided_at, intent, model_id, from_state, to_state, rule, "
        "reason, "
        "actor, inputs, settings_hash, announced_at FROM governance.decisions WHERE tenant_id = $1 "
        "AND ($2::text IS NULL OR intent = $2) AND ($3::text IS NULL OR model_id = $3) "
        "AND ($4::text IS NULL OR kind = $4) AND ($5::timestamptz IS NULL OR decided_at >= $5) "
        "AND ($6::timestamptz IS NULL OR decided_at < $6) AND seq > $7 "
        "AND ($9::text IS NULL OR idempotency_key = $9) AND ($10::uuid IS NULL OR decision_id = $10) "
        "ORDER BY seq LIMIT $8",
        tenant,
        intent,
        model_id,
        kind,
        start,
        end,
        after_seq,
        limit,
        idempotency_key,
        decision_id,
    )
    return [
        {
            **dict(r),
            "decision_id": str(r["decision_id"]),
            "inputs": _json(r["inputs"]),
            "tick": r["tick"].isoformat() if r["tick"] else None,
            "decided_at": r["decided_at"].isoformat(),
            "announced_at": r["announced_at"].isoformat() if r["announced_at"] else None,
        }
        for r in rows
    ]


async def evaluation_rows(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    intent: str | None,
    model_id: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT intent, model_id, tick, verdict, reasons, inputs, settings_hash FROM governance.evaluations "
        "WHERE tenant_id = $1 AND ($2::text IS NULL OR intent = $2) AND ($3::text IS NULL OR model_id = $3) "
        "AND ($4::timestamptz IS NULL OR tick >= $4) AND ($5::timestamptz IS NULL OR tick < $5) "
        "ORDER BY tick DESC, intent, model_id LIMIT $6",
        tenant,
        intent,
        model_id,
        start,
        end,
        limit,
    )
    return [{**dict(r), "tick": r["tick"].isoformat(), "inputs": _json(r["inputs"])} for r in rows]


async def history(pool: asyncpg.Pool, tenant: str, model_id: str, intent: str | None) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT intent, state, valid_from, valid_to, from_seq, to_seq FROM governance.state_history "
        "WHERE tenant_id = $1 AND model_id = $2 AND ($3::text IS NULL OR intent = $3) "
        "ORDER BY intent, from_seq",
        tenant,
        model_id,
        intent,
    )
    return [
        {
            **dict(r),
            "valid_from": r["valid_from"].isoformat(),
            "valid_to": r["valid_to"].isoformat() if r["valid_to"] else None,
        }
        for r in rows
    ]


async def primary_at(pool: asyncpg.Pool, tenant: str, intent: str, at: datetime) -> dict[str, Any] | None:
    """Which model was PRIMARY for the intent at `at` (the intent's own, else the global route)."""
    for matched in (intent, GLOBAL_INTENT):
        row = await pool.fetchrow(
            "SELECT h.model_id, h.valid_from, h.valid_to, d.decision_id FROM governance.state_history h "
            "JOIN governance.decisions d ON d.tenant_id = h.tenant_id AND d.seq = h.from_seq "
            "WHERE h.tenant_id = $1 AND h.intent = $2 AND h.state = 'PRIMARY' AND h.valid_from <= $3 "
            "AND (h.valid_to IS NULL OR h.valid_to > $3) ORDER BY h.valid_from DESC LIMIT 1",
            tenant,
            matched,
            at,
        )
        if row is not None:
            return {
                "intent": intent,
                "at": at.isoformat(),
                "matched": matched,
                "model_id": row["model_id"],
                "state": "PRIMARY",
                "valid_from": row["valid_from"].isoformat(),
                "valid_to": row["valid_to"].isoformat() if row["valid_to"] else None,
                "decision_id": str(row["decision_id"]),
            }
    return None
