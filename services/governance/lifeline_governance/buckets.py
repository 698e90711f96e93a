"""SQL of the call windows: the projection's bucket upserts and cursors, the job's sums.

Bucket counters are integers added with `+`, so two batches — or two consumers — adding
to the same minute commute. Rows are written in key order so concurrent consumers take
row locks in the same order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from lifeline_governance.evaluation import ModelStats
from lifeline_governance.samples import HIST_SIZE, BucketKey, CallFields, CallKey, Counters, SessionCursor
from lifeline_projection import SessionKey

_COLUMNS = (
    "calls",
    "outcomes",
    "successes",
    "scored",
    "score_milli_sum",
    "score_milli_sq",
    "latency_n",
    "latency_sum_ms",
    "latency_hist",
    "tokens_in",
    "tokens_out",
)

_UPSERT = f"""
INSERT INTO governance.call_buckets (tenant_id, intent, model_id, bucket, {", ".join(_COLUMNS)})
SELECT r.tenant_id, r.intent, r.model_id, to_timestamp(r.minute), {", ".join("r." + c for c in _COLUMNS)}
FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id text, intent text, model_id text, minute bigint,
     calls bigint, outcomes bigint, successes bigint, scored bigint, score_milli_sum bigint,
     score_milli_sq bigint, latency_n bigint, latency_sum_ms bigint, latency_hist bigint[],
     tokens_in bigint, tokens_out bigint)
ORDER BY 1, 2, 3, 4
ON CONFLICT (tenant_id, intent, model_id, bucket) DO UPDATE SET
    {", ".join(f"{c} = call_buckets.{c} + EXCLUDED.{c}" for c in _COLUMNS if c != "latency_hist")},
    latency_hist = ARRAY(SELECT a + b FROM unnest(call_buckets.latency_hist, EXCLUDED.latency_hist)
                         WITH ORDINALITY AS u(a, b, i) ORDER BY i)
"""


async def add(conn: asyncpg.Connection, deltas: Mapping[BucketKey, Counters]) -> None:
    """Add the deltas to their buckets (one statement for the whole batch)."""
    if not deltas:
        return
    rows = [
        {
            "tenant_id": k.tenant_id,
            "intent": k.intent,
            "model_id": k.model_id,
            "minute": k.minute,
            **dict(zip(_COLUMNS, c.as_row(), strict=True)),
        }
        for k, c in deltas.items()
    ]
    await conn.execute(_UPSERT, rows)  # the pool encodes jsonb


async def load_cursors(
    conn: asyncpg.Connection, keys: Sequence[SessionKey], calls: Mapping[SessionKey, set[CallKey]]
) -> dict[SessionKey, SessionCursor]:
    """Each session's current intent, and the already-counted calls this batch names again."""
    rows = await conn.fetch(
        "SELECT tenant_id, session_id, current_intent FROM governance.session_cursor "
        "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [k.tenant_id for k in keys],
        [k.session_id for k in keys],
    )
    cursors = {k: SessionCursor() for k in keys}
    for r in rows:
        cursors[SessionKey(r["tenant_id"], r["session_id"])].current_intent = r["current_intent"]
    wanted = [(k, turn, model) for k, named in calls.items() for turn, model in named]
    if not wanted:
        return cursors
    for r in await conn.fetch(
        "SELECT c.* FROM governance.call_keys c WHERE (tenant_id, session_id, turn_id, model_id) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]))",
        [k.tenant_id for k, _, _ in wanted],
        [k.session_id for k, _, _ in wanted],
        [t for _, t, _ in wanted],
        [m for _, _, m in wanted],
    ):
        fields = CallFields(r["score"], r["success"], r["latency_ms"], r["tokens_in"], r["tokens_out"])
        bucket = BucketKey(r["tenant_id"], r["intent"], r["model_id"], r["minute"])
        cursors[SessionKey(r["tenant_id"], r["session_id"])].known[(r["turn_id"], r["model_id"])] = (
            bucket,
            fields,
        )
    return cursors


async def save_cursors(
    conn: asyncpg.Connection,
    cursors: Mapping[SessionKey, SessionCursor],
    intents_before: Mapping[SessionKey, str | None],
) -> None:
    """Sessions whose intent moved, and the keyed calls counted or filled in by this batch."""
    moved = [
        {"tenant_id": k.tenant_id, "session_id": k.session_id, "current_intent": c.current_intent}
        for k, c in sorted(cursors.items())
        if c.current_intent != intents_before.get(k)
    ]
    if moved:
        await conn.execute(
            "INSERT INTO governance.session_cursor (tenant_id, session_id, current_intent) "
            "SELECT r.tenant_id, r.session_id, r.current_intent FROM jsonb_to_recordset($1::jsonb) "
            "AS r(tenant_id text, session_id text, current_intent text) ORDER BY 1, 2 "
            "ON CONFLICT (tenant_id, session_id) DO UPDATE SET current_intent = EXCLUDED.current_intent",
            moved,
        )
    rows = []
    for key, cursor in sorted(cursors.items()):
        for turn, model in sorted(cursor.changed):
            bucket, f = cursor.known[(turn, model)]
            rows.append(
                {
                    "tenant_id": key.tenant_id,
                    "session_id": key.session_id,
                    "turn_id": turn,
                    "model_id": model,
                    "intent": bucket.intent,
                    "minute": bucket.minute,
                    "score": f.score,
                    "success": f.success,
                    "latency_ms": f.latency_ms,
                    "tokens_in": f.tokens_in,
                    "tokens_out": f.tokens_out,
                }
            )
    if rows:
        await conn.execute(
            "INSERT INTO governance.call_keys SELECT r.* FROM jsonb_to_recordset($1::jsonb) "
            "AS r(tenant_id text, session_id text, turn_id bigint, model_id text, intent text, "
            "minute bigint, score double precision, success boolean, latency_ms bigint, tokens_in bigint, "
            "tokens_out bigint) ORDER BY 1, 2, 3, 4 "
            "ON CONFLICT (tenant_id, session_id, turn_id, model_id) DO UPDATE SET score = EXCLUDED.score, "
            "success = EXCLUDED.success, latency_ms = EXCLUDED.latency_ms, tokens_in = EXCLUDED.tokens_in, "
            "tokens_out = EXCLUDED.tokens_out",
            rows,
        )


_PREVIOUS = ("scored", "score_milli_sum", "score_milli_sq")
"""What the previous window is read for: the anomaly rule compares mean scores only."""
_PLAIN = tuple(c for c in _COLUMNS if c != "latency_hist")

# One pass over both windows' buckets, grouped by window: no per-row FILTER, no join.
_WINDOWS = f"""
SELECT b.intent, b.model_id, b.bucket >= $2 AS cur,
       {", ".join(f"sum(b.{c})::bigint AS {c}" for c in _PLAIN)},
       {", ".join(f"sum(b.latency_hist[{i + 1}])::bigint AS h{i}" for i in range(HIST_SIZE))}
FROM governance.call_buckets b
WHERE b.tenant_id = $1 AND b.bucket >= $4 AND b.bucket < $3 {{intent_filter}}
GROUP BY 1, 2, 3
"""

# Fresh evidence: a CANDIDATE's outcomes since its last counted look (within the window).
_FRESH = """
SELECT b.intent, b.model_id, sum(b.outcomes)::bigint AS fresh
FROM governance.placements p
JOIN governance.call_buckets b USING (tenant_id, intent, model_id)
WHERE p.tenant_id = $1 AND p.state = 'CANDIDATE' AND b.bucket >= greatest($2, coalesce(p.counted_until, $2))
      AND b.bucket < $3 {intent_filter}
GROUP BY 1, 2
"""


def _counters(row: Mapping[str, Any], columns: tuple[str, ...]) -> Counters:
    out = Counters()
    for c in columns:
        setattr(out, c, int(row[c]))
    if columns == _PLAIN:
        out.latency_hist = [int(row[f"h{i}"]) for i in range(HIST_SIZE)]
    return out


def ts(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


async def window_stats(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant: str,
    current: tuple[int, int],
    previous_start: int,
    intents: Iterable[str] | None = None,
) -> dict[str, dict[str, ModelStats]]:
    """{intent: {model: sums of the current and previous windows, fresh outcomes}}."""
    args: list[Any] = [tenant, ts(current[0]), ts(current[1]), ts(previous_start)]
    windows, fresh_sql = _WINDOWS.format(intent_filter=""), _FRESH.format(intent_filter="")
    if intents is not None:
        args.append(list(intents))
        windows = _WINDOWS.format(intent_filter="AND b.intent = ANY($5::text[])")
        fresh_sql = _FRESH.format(intent_filter="AND p.intent = ANY($4::text[])")
    sums: dict[tuple[str, str], dict[bool, Counters]] = {}
    for row in await conn.fetch(windows, *args):
        window = _PLAIN if row["cur"] else _PREVIOUS
        sums.setdefault((row["intent"], row["model_id"]), {})[row["cur"]] = _counters(row, window)
    fresh = {
        (r["intent"], r["model_id"]): int(r["fresh"])
        for r in await conn.fetch(fresh_sql, *args[:3], *args[4:])
    }
    out: dict[str, dict[str, ModelStats]] = {}
    for (intent, model), by_window in sums.items():
        out.setdefault(intent, {})[model] = ModelStats(
            by_window.get(True, Counters()), by_window.get(False, Counters()), fresh.get((intent, model), 0)
        )
    return out


async def purge(conn: asyncpg.Pool, bucket_days: int, evaluation_days: int) -> None:
    """Retention: old buckets and evaluations go; decisions are kept for ever."""
    await conn.execute(
        "DELETE FROM governance.call_buckets WHERE bucket < now() - make_interval(days => $1)", bucket_days
    )
    await conn.execute(
        "DELETE FROM governance.call_keys "
        "WHERE minute < extract(epoch FROM now() - make_interval(days => $1))",
        bucket_days,
    )
    await conn.execute(
        "DELETE FROM governance.evaluations WHERE tick < now() - make_interval(days => $1)", evaluation_days
    )
    await conn.execute(
        "DELETE FROM governance.tick_inputs WHERE tick < now() - make_interval(days => $1)", evaluation_days
    )
