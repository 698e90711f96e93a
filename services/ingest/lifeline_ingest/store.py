"""ingest's SQL: the append transaction, log reads, and the outbox queries.

Per-session seq is gapless across replicas because every append takes the
session's row lock (`FOR UPDATE`, in key order so concurrent group commits cannot
deadlock) before reading `last_seq`; dedupe reads run under that same lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lifeline_events import Event
from lifeline_ingest.domain import Known, SessionCursor
from lifeline_store import wrap_errors

OUTBOX_CHANNEL = "lifeline_ingest_outbox"

_LOCK_SESSIONS = """
SELECT tenant_id, session_id, last_seq FROM ingest.sessions
WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY tenant_id, session_id FOR UPDATE
"""
_KNOWN_TURNS = """
SELECT e.tenant_id, e.session_id, e.seq, e.event_id, e.turn_id FROM ingest.events e
JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS k(t, s, turn)
  ON e.tenant_id = k.t AND e.session_id = k.s AND e.turn_id = k.turn
"""
# Separate statements: an empty id array in a UNION tempted the planner into scanning
# the whole outbox index, which is large exactly when the relay lags.
_KNOWN_IDS = """
SELECT tenant_id, session_id, seq, event_id, turn_id FROM ingest.events WHERE event_id = ANY($1::uuid[])
"""
_INSERT = """
INSERT INTO ingest.events (tenant_id, session_id, seq, event_id, event_type, schema_version,
                           turn_id, person_id, occurred_at, recorded_at, traceparent, envelope)
SELECT t, s, q, i, et, v, tu, p, oa, ra, tp, env::jsonb
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::int[],
            $7::bigint[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[])
     AS u(t, s, q, i, et, v, tu, p, oa, ra, tp, env)
"""
_ADVANCE = """
UPDATE ingest.sessions AS s SET last_seq = u.q, updated_at = now(),
       person_id = COALESCE(s.person_id, u.p)
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(t, s2, q, p)
WHERE s.tenant_id = u.t AND s.session_id = u.s2
"""


@dataclass(frozen=True)
class SessionKey:
    tenant_id: str
    session_id: str


async def lock_sessions(
    conn: asyncpg.Connection, keys: Sequence[SessionKey]
) -> dict[SessionKey, SessionCursor]:
    """Create missing session rows, lock all of them in key order, return cursors."""
    ordered = sorted(set(keys), key=lambda k: (k.tenant_id, k.session_id))
    tenants = [k.tenant_id for k in ordered]
    sessions = [k.session_id for k in ordered]
    await conn.execute(
        "INSERT INTO ingest.sessions (tenant_id, session_id) "
        "SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2 ON CONFLICT DO NOTHING",
        tenants, sessions,
    )
    rows = await conn.fetch(_LOCK_SESSIONS, tenants, sessions)
    return {
        SessionKey(r["tenant_id"], r["session_id"]):
            SessionCursor(r["tenant_id"], r["session_id"], r["last_seq"])
        for r in rows
    }


async def load_known(conn: asyncpg.Connection, cursors: dict[SessionKey, SessionCursor],
                     turn_keys: Sequence[tuple[SessionKey, int]], event_ids: Sequence[UUID]) -> None:
    """Fill the cursors with the already-logged events that incoming ids refer to."""
    if not turn_keys and not event_ids:
        return
    rows: list[asyncpg.Record] = []
    if turn_keys:
        rows += await conn.fetch(
            _KNOWN_TURNS, [k.tenant_id for k, _ in turn_keys], [k.session_id for k, _ in turn_keys],
            [t for _, t in turn_keys])
    if event_ids:
        rows += await conn.fetch(_KNOWN_IDS, list(event_ids))
    for r in rows:
        known = Known(r["seq"], r["event_id"], r["tenant_id"], r["session_id"])
        cursor = cursors.get(SessionKey(r["tenant_id"], r["session_id"]))
        if cursor is not None and r["turn_id"] is not None:
            cursor.by_turn[r["turn_id"]] = known
        for c in cursors.values():
            c.by_event[r["event_id"]] = known


async def insert_events(conn: asyncpg.Connection, rows: Sequence[Event]) -> None:
    if not rows:
        return
    await conn.execute(
        _INSERT,
        [e.tenant_id for e in rows], [e.session_id for e in rows], [e.seq for e in rows],
        [e.event_id for e in rows], [e.event_type for e in rows], [e.schema_version for e in rows],
        [e.turn_id for e in rows], [e.person_id for e in rows], [e.occurred_at for e in rows],
        [e.recorded_at for e in rows], [e.traceparent for e in rows],
        [e.to_json_bytes().decode() for e in rows],
    )


async def advance_sessions(conn: asyncpg.Connection, cursors: Sequence[SessionCursor],
                           person_ids: dict[tuple[str, str], str | None]) -> None:
    await conn.execute(
        _ADVANCE,
        [c.tenant_id for c in cursors], [c.session_id for c in cursors],
        [c.last_seq for c in cursors],
        [person_ids.get((c.tenant_id, c.session_id)) for c in cursors],
    )
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)


async def session_last_seq(pool: asyncpg.Pool, tenant: str, session: str) -> int | None:
    with wrap_errors("read session"):
        return await pool.fetchval(
            "SELECT last_seq FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2",
            tenant, session)


async def read_events(pool: asyncpg.Pool, tenant: str, session: str, after_seq: int,
                      limit: int) -> list[tuple[int, str]]:
    """(seq, envelope JSON text) after `after_seq`, in seq order; text avoids a decode."""
    with wrap_errors("read events"):
        rows = await pool.fetch(
            "SELECT seq, envelope::text AS body FROM ingest.events WHERE tenant_id = $1 "
            "AND session_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            tenant, session, after_seq, limit)
    return [(r["seq"], r["body"]) for r in rows]


async def read_wal(pool: asyncpg.Pool, tenant: str, session: str, after_seq: int,
                   limit: int) -> list[dict[str, Any]]:
    with wrap_errors("read wal"):
        rows = await pool.fetch(
            "SELECT seq, event_id, event_type, turn_id, recorded_at, published_at "
            "FROM ingest.events WHERE tenant_id = $1 AND session_id = $2 AND seq > $3 "
            "ORDER BY seq LIMIT $4", tenant, session, after_seq, limit)
    return [{
        "seq": r["seq"], "event_id": str(r["event_id"]), "event_type": r["event_type"],
        "turn_id": r["turn_id"], "recorded_at": r["recorded_at"].isoformat(),
        "published": r["published_at"] is not None,
        "published_at": r["published_at"].isoformat() if r["published_at"] else None,
    } for r in rows]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    session_id: str
    body: bytes
    traceparent: str | None
    recorded_at: datetime


async def fetch_unpublished(conn: asyncpg.Connection, limit: int) -> list[OutboxRow]:
    rows = await conn.fetch(
        "SELECT id, session_id, envelope::text AS body, traceparent, recorded_at "
        "FROM ingest.events WHERE published_at IS NULL ORDER BY id LIMIT $1", limit)
    return [OutboxRow(r["id"], r["session_id"], r["body"].encode(), r["traceparent"],
                      r["recorded_at"]) for r in rows]


async def mark_published(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE ingest.events SET published_at = now() WHERE id = ANY($1::bigint[]) "
        "AND published_at IS NULL", list(ids))


async def outbox_report(pool: asyncpg.Pool) -> dict[str, Any]:
    """What a WAL repair would re-publish: count, oldest, and the sessions involved."""
    with wrap_errors("read outbox"):
        row = await pool.fetchrow(
            "SELECT count(*) AS n, min(recorded_at) AS oldest, "
            "count(DISTINCT (tenant_id, session_id)) AS sessions "
            "FROM ingest.events WHERE published_at IS NULL")
    return {"unpublished": row["n"], "sessions": row["sessions"],
            "oldest_recorded_at": row["oldest"].isoformat() if row["oldest"] else None}


async def mark_unpublished(pool: asyncpg.Pool, tenant: str, session: str, from_seq: int) -> int:
    """Queue a session's events from `from_seq` for re-publication (projections re-apply)."""
    with wrap_errors("reset published state"):
        status = await pool.execute(
            "UPDATE ingest.events SET published_at = NULL WHERE tenant_id = $1 AND session_id = $2 "
            "AND seq >= $3 AND published_at IS NOT NULL", tenant, session, from_seq)
    return int(status.split()[-1])
