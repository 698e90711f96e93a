"""`verify`: re-run the pure rules on every stored tick's inputs and re-fold the log.

Three things are checked: each stored evaluation is reproduced byte for byte by the
current `evaluate()` on its stored inputs and rules; the window sums it saw are
recomputed from today's counters (a difference is drift: events that arrived after the
settle time, reported, never "fixed"); and every placement's state equals the fold of
the decision log (`registry.fold`), so the table could be rebuilt from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from lifeline_governance import buckets
from lifeline_governance.codec import decode_input, output_hash
from lifeline_governance.decide import evaluate
from lifeline_governance.registry import Change, FoldError, fold
from lifeline_governance.rules import Rules
from lifeline_governance.windows import windows_at


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


async def verify(
    pool: asyncpg.Pool, tenant: str, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT intent, tick, input, rules, output_sha256 FROM governance.tick_inputs WHERE tenant_id = $1 "
        "AND ($2::timestamptz IS NULL OR tick >= $2) AND ($3::timestamptz IS NULL OR tick < $3) "
        "ORDER BY tick",
        tenant,
        start,
        end,
    )
    mismatches, drift = [], []
    for r in rows:
        snap, stats = decode_input(_json(r["input"]))
        rules, tick = Rules.from_json(_json(r["rules"])), int(r["tick"].timestamp())
        again = evaluate(snap, stats, tick, rules)
        if output_hash(again) != r["output_sha256"]:
            mismatches.append({"intent": r["intent"], "tick": r["tick"].isoformat()})
        current, previous = windows_at(tick, rules.window_s, rules.settle_s)
        now = (
            await buckets.window_stats(
                pool, tenant, (current.start, current.end), previous.start, [r["intent"]]
            )
        ).get(r["intent"], {})
        moved = sorted(
            m
            for m in set(now) | set(stats)
            if (now[m].current.as_row() if m in now else None)
            != (stats[m].current.as_row() if m in stats else None)
        )
        if moved:
            drift.append({"intent": r["intent"], "tick": r["tick"].isoformat(), "models": moved})
    return {
        "tenant_id": tenant,
        "evaluations_checked": len(rows),
        "evaluations_reproduced": len(rows) - len(mismatches),
        "mismatches": mismatches,
        "drift": drift,
        "fold": await fold_check(pool, tenant),
    }


async def fold_check(pool: asyncpg.Pool, tenant: str) -> dict[str, Any]:
    """Placements vs the fold of the decision log, per intent."""
    changes: dict[str, list[Change]] = {}
    for r in await pool.fetch(
        "SELECT intent, model_id, from_state, to_state FROM governance.decisions WHERE tenant_id = $1 "
        "AND model_id IS NOT NULL AND to_state IS NOT NULL AND from_state IS DISTINCT FROM to_state "
        "ORDER BY seq",
        tenant,
    ):
        changes.setdefault(r["intent"], []).append(Change(r["model_id"], r["from_state"], r["to_state"]))
    table: dict[str, dict[str, str]] = {}
    for r in await pool.fetch(
        "SELECT intent, model_id, state FROM governance.placements WHERE tenant_id = $1", tenant
    ):
        table.setdefault(r["intent"], {})[r["model_id"]] = r["state"]
    differ: list[dict[str, object]] = []
    for intent in sorted(set(changes) | set(table)):
        try:
            folded: dict[str, str] = dict(fold(changes.get(intent, [])))
        except FoldError as exc:
            differ.append({"intent": intent, "error": str(exc)})
            continue
        if folded != table.get(intent, {}):
            differ.append({"intent": intent, "fold": folded, "placements": table.get(intent, {})})
    return {"intents_checked": len(set(changes) | set(table)), "differences": differ}
