"""trace-store's SQL: the `traces` schema and nothing else.

Reads are tenant-scoped in SQL, so a query can never return another tenant's trace.
Callers wrap errors (`lifeline_store.wrap_errors`) at their boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from lifeline_tracestore.domain import TraceRow, day_of, day_start

_COLUMNS = ("trace_id, ts, tenant_id, person_id, session_id, seq, event_type, event_data, "
            "context_snapshot, otel_trace_id, source")
_PUBLIC = "trace_id, ts, person_id, session_id, seq, event_type, event_data, context_snapshot, otel_trace_id"
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
_INSERT = f"""
INSERT INTO traces.event_traces ({_COLUMNS})
SELECT t, ts, te, p, s, q, et, d::json, c::json, o, src
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
     AS u(t, ts, te, p, s, q, et, d, c, o, src)
"""
# The log's copy of an event is the fold's exact answer: it wins over a lifecycle copy. A
# row that `chains_back` (cb; the first of its run) drops its context when the session's
# latest stored row of its day (`day` is the day's start, the row's partition) is its
# predecessor: then the row's chain runs through that row. A backward scan of the session
# index stops at the first row; a predecessor stamped later than the row (a clock step)
# is not found, and the row keeps its context.
_FROM_LOG = f"""
INSERT INTO traces.event_traces ({_COLUMNS})
SELECT t, ts, te, p, s, q, et, d::json,
       CASE WHEN cb AND (SELECT b.seq FROM traces.event_traces b
                         WHERE b.tenant_id = u.te AND b.session_id = u.s AND b.source = 'events'
                           AND b.ts >= u.day AND b.ts <= u.ts
                         ORDER BY b.ts DESC, b.seq DESC LIMIT 1) = u.q - 1
            THEN NULL ELSE c::json END,
       o, src
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[],
            $13::timestamptz[])
     AS u(t, ts, te, p, s, q, et, d, c, o, src, cb, day)
ON CONFLICT (trace_id, ts) DO UPDATE SET seq = EXCLUDED.seq, person_id = EXCLUDED.person_id,
    context_snapshot = EXCLUDED.context_snapshot, source = EXCLUDED.source"""
# Held shared by a batch whose rows may chain back to stored rows, exclusively by a delete
# of rows (`contexts.keep_chains`): a row never chains back to a row deleted meanwhile.
CHAINS_LOCK = 0x54524143_45_03  # "TRACE" + 3
_ANNOUNCED = _INSERT + " ON CONFLICT (trace_id, ts) DO NOTHING RETURNING true AS inserted"


def _columns(rows: Sequence[TraceRow]) -> list[list[Any]]:
    fields = ("trace_id", "ts", "tenant_id", "person_id", "session_id", "seq", "event_type",
              "event_data", "context_snapshot", "otel_trace_id", "source")
    return [[getattr(r, f) for r in rows] for f in fields]


async def insert_from_log(conn: asyncpg.Connection, rows: Sequence[TraceRow]) -> int:
    """Insert (or complete a lifecycle copy of) traces of logged events; return rows written.

    Rows that chain back to stored ones wait for a delete of rows in progress (`CHAINS_LOCK`),
    in a statement of their own: the insert's snapshot must be taken once the delete committed.
    """
    if not rows:
        return 0
    if any(r.chains_back for r in rows):
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", CHAINS_LOCK)
    days = [day_start(day_of(r.ts)) if r.chains_back else None for r in rows]
    status = await conn.execute(_FROM_LOG, *_columns(rows), [r.chains_back for r in rows], days)
    return int(status.split()[-1])


async def insert_announced(conn: asyncpg.Connection, rows: Sequence[TraceRow]) -> int:
    """Insert lifecycle traces unless the event is already stored; return new rows."""
    if not rows:
        return 0
    return len(await conn.fetch(_ANNOUNCED, *_columns(rows)))


async def stored_seq(pool: asyncpg.Pool, tenant: str, session: str) -> int:
    """The last seq of the session folded into traces (the projection's checkpoint)."""
    value = await pool.fetchval(
        "SELECT last_seq FROM traces.sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session)
    return int(value or 0)


async def get_trace(pool: asyncpg.Pool, tenant: str, trace_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        f"SELECT {_PUBLIC}, tenant_id FROM traces.event_traces WHERE trace_id = $1 AND tenant_id = $2",
        trace_id, tenant)


async def delete_trace(conn: asyncpg.Connection, tenant: str, trace_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM traces.event_traces WHERE trace_id = $1 AND tenant_id = $2", trace_id, tenant)
    return status != "DELETE 0"


def _of_types(types: Sequence[str] | None, param: int, column: str = "event_type") -> str:
    """` AND <column> = ANY($param)` when filtering by event type (or person), else nothing.

    Two statement texts instead of `$n IS NULL OR …`, so each gets a plan that uses its index."""
    return f" AND {column} = ANY(${param}::text[])" if types else ""


def _typed(args: list[Any], types: Sequence[str] | None) -> list[Any]:
    return [*args, list(types)] if types else args


async def session_traces(pool: asyncpg.Pool, tenant: str, person: str, session: str,
                         limit: int, types: Sequence[str] | None = None) -> list[asyncpg.Record]:
    """A session's traces in time order, of `types` only when given; person-less traces
    (before any turn named one) included."""
    return await pool.fetch(
        f"SELECT {_PUBLIC} FROM traces.event_traces WHERE tenant_id = $1 AND session_id = $2 "
        f"AND (person_id = $3 OR person_id IS NULL){_of_types(types, 5)} "
        "ORDER BY ts, seq NULLS LAST, trace_id LIMIT $4",
        *_typed([tenant, session, person, limit], types))


# Page keys come from the person index alone (an index-only scan once a day's partition
# is vacuumed), so a deep offset skips index entries, not whole rows
# (with ?event_type=, the same from the (tenant, person, event_type) index).
def _person_page(types: Sequence[str] | None) -> str:
    return f"""
WITH page AS (SELECT ts, trace_id FROM traces.event_traces WHERE tenant_id = $1 AND person_id = $2
              {_of_types(types, 5)} ORDER BY ts DESC, trace_id DESC OFFSET $3 LIMIT $4)
SELECT {", ".join("t." + c for c in _PUBLIC.split(", "))}
FROM page JOIN traces.event_traces t ON t.trace_id = page.trace_id AND t.ts = page.ts AND t.tenant_id = $1
ORDER BY t.ts DESC, t.trace_id DESC"""


async def person_traces(pool: asyncpg.Pool, tenant: str, person: str, offset: int, limit: int,
                        types: Sequence[str] | None = None) -> tuple[list[asyncpg.Record], int]:
    """A page of a person's traces (of `types` only when given), newest first, and how many
    there are in all (two connections)."""
    total, rows = await asyncio.gather(
        pool.fetchval("SELECT count(*) FROM traces.event_traces WHERE tenant_id = $1 AND person_id = $2"
                      + _of_types(types, 3), *_typed([tenant, person], types)),
        pool.fetch(_person_page(types), *_typed([tenant, person, offset, limit], types)))
    return list(rows), int(total)


async def logged_events(pool: asyncpg.Pool, tenant: str, session: str,
                        until_seq: int) -> list[dict[str, Any]]:
    """Stored events of the log for seq 1..until_seq (fewer when some have expired)."""
    rows = await pool.fetch(
        "SELECT event_data FROM traces.event_traces WHERE tenant_id = $1 AND session_id = $2 "
        "AND seq IS NOT NULL AND seq <= $3 ORDER BY seq", tenant, session, until_seq)
    return [r["event_data"] for r in rows]


async def otel_traces(pool: asyncpg.Pool, tenant: str, otel_trace_id: str,
                      types: Sequence[str] | None = None) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT trace_id, ts, person_id, session_id, seq, event_type, stored_at, source "
        f"FROM traces.event_traces WHERE otel_trace_id = $1 AND tenant_id = $2{_of_types(types, 3)} "
        "ORDER BY ts, session_id, seq NULLS LAST", *_typed([otel_trace_id, tenant], types))


async def stats(pool: asyncpg.Pool, tenant: str, *, top: int = 10, days: int = 7,
                persons: Sequence[str] | None = None) -> dict[str, Any]:
    """Counts for `GET /replay/stats`, all within one tenant (and `persons`, when given)."""
    only = _of_types(persons, 3, "person_id")  # a person-scoped key counts its persons' only
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        total = await conn.fetchval("SELECT count(*) FROM traces.event_traces WHERE tenant_id = $1"
                                    + _of_types(persons, 2, "person_id"), *_typed([tenant], persons))
        by_person = await conn.fetch(
            "SELECT person_id, count(*) AS n FROM traces.event_traces WHERE tenant_id = $1 "
            f"AND person_id IS NOT NULL{only} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $2",
            *_typed([tenant, top], persons))
        types = await conn.fetch(
            "SELECT event_type, count(*) AS n FROM traces.event_traces WHERE tenant_id = $1"
            f"{_of_types(persons, 2, 'person_id')} GROUP BY 1 ORDER BY 2 DESC, 1", *_typed([tenant], persons))
        recent = await conn.fetch(
            "SELECT (ts AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM traces.event_traces "
            "WHERE tenant_id = $1 AND ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
            f"- make_interval(days => $2){only} GROUP BY 1 ORDER BY 1 DESC",
            *_typed([tenant, days - 1], persons))
    return {
        "total_traces": int(total),
        "top_persons": [{"person_id": r["person_id"], "trace_count": r["n"]} for r in by_person],
        "event_types": [{"event_type": r["event_type"], "count": r["n"]} for r in types],
        "recent_activity": [{"date": r["day"].isoformat(), "trace_count": r["n"]} for r in recent],
    }


# Rebuilding contexts on read (domain.rebuild_contexts). Per (tenant, session, day) asked
# for: the rows from the nearest anchor at or before `lo` up to `hi`, in seq order. A
# row's anchor is always in its own day partition (domain.is_anchor), so both lookups
# stay in one day's partition.
_CHAINS = """
SELECT k.i, e.seq, e.event_data, e.context_snapshot
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[])
     WITH ORDINALITY AS k(tenant_id, session_id, lo, hi, day, i)
CROSS JOIN LATERAL (
    SELECT max(a.seq) AS from_seq FROM traces.event_traces a
    WHERE a.tenant_id = k.tenant_id AND a.session_id = k.session_id AND a.source = 'events'
      AND a.ts >= k.day AND a.ts < k.day + interval '24 hours'
      AND a.seq <= k.lo AND a.context_snapshot IS NOT NULL) AS anchor
JOIN LATERAL (
    SELECT e.seq, e.event_data, e.context_snapshot FROM traces.event_traces e
    WHERE e.tenant_id = k.tenant_id AND e.session_id = k.session_id AND e.source = 'events'
      AND e.ts >= k.day AND e.ts < k.day + interval '24 hours'
      AND e.seq BETWEEN anchor.from_seq AND k.hi) AS e ON true
ORDER BY k.i, e.seq
"""


async def context_chains(conn: Executor, keys: Sequence[tuple[str, str, int, int, Any]]
                         ) -> dict[int, list[tuple[int, Any, Any]]]:
    """Per key (tenant, session, lo, hi, day start), by its index: (seq, event_data,
    context_snapshot) from the nearest anchor at or before `lo` through `hi`; one query."""
    rows = await conn.fetch(_CHAINS, *[[k[n] for k in keys] for n in range(5)])
    chains: dict[int, list[tuple[int, Any, Any]]] = {}
    for r in rows:
        chains.setdefault(int(r["i"]) - 1, []).append((r["seq"], r["event_data"], r["context_snapshot"]))
    return chains


def _successors(table: str, doomed: str) -> str:
    """Context-less rows right after a row about to be deleted (`doomed`, on alias d/s), that
    are not deleted themselves: they lose the anchor or events their context is rebuilt from."""
    return (f"SELECT s.tenant_id, s.session_id, s.seq, s.ts FROM {table} d JOIN {table} s "
            "ON s.tenant_id = d.tenant_id AND s.session_id = d.session_id AND s.seq = d.seq + 1 "
            f"AND s.source = 'events' AND s.context_snapshot IS NULL AND NOT ({doomed.format(t='s')}) "
            f"WHERE d.source = 'events' AND {doomed.format(t='d')}")


async def successors(conn: asyncpg.Connection, table: str, doomed: str, *args: Any) -> list[asyncpg.Record]:
    """`_successors` of the rows of `table` (a day partition or the parent) matching `doomed`."""
    return await conn.fetch(_successors(table, doomed), *args)


async def set_contexts(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, Any, str]]) -> None:
    """Store (tenant, session, seq, ts, context JSON) on those log rows: they become anchors."""
    if not rows:
        return
    await conn.execute(
        "UPDATE traces.event_traces e SET context_snapshot = u.c::json "
        "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[]) "
        "     AS u(t, s, q, ts, c) "
        "WHERE e.tenant_id = u.t AND e.session_id = u.s AND e.seq = u.q AND e.ts = u.ts "
        "AND e.source = 'events'", *[[r[n] for r in rows] for n in range(5)])
