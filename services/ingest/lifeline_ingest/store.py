"""ingest's SQL: the optimistic append, log reads, and the outbox queries.

An append is two round trips: read the sessions' `last_seq` and the logged events
that incoming ids refer to, plan in Python (domain.py), then ONE statement that
inserts the events, advances the sessions and wakes the relay — atomic on its own.
Correctness does not rest on the read being fresh: the primary key
(tenant, session, seq), the unique turn index and the sessions' key (for a session
read as absent) refuse a plan built on a stale read (another writer took that seq,
logged that turn or created that session), the statement fails whole, and
the committer re-reads and re-plans. So seq stays gapless and every turn is logged
once even with several ingest processes, and no lock is held across a round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lifeline_events import Event, Room
from lifeline_ingest import branch_store
from lifeline_ingest.domain import Known, SessionCursor
from lifeline_store import wrap_errors

OUTBOX_CHANNEL = "lifeline_ingest_outbox"

_READ = """
SELECT 0 AS kind, tenant_id, session_id, last_seq AS seq, NULL::uuid AS event_id, NULL::bigint AS turn_id,
       room::text AS room,
       (SELECT b.from_seq FROM ingest.branches b
        WHERE b.tenant_id = s.tenant_id AND b.session_id = s.session_id) AS branched_at
FROM ingest.sessions s WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
UNION ALL
SELECT 1, e.tenant_id, e.session_id, e.seq, e.event_id, e.turn_id, NULL, NULL FROM ingest.events e
JOIN unnest($3::text[], $4::text[], $5::bigint[]) AS k(t, s, turn)
  ON e.tenant_id = k.t AND e.session_id = k.s AND e.turn_id = k.turn
"""
# Separate, and only when ids are given: an empty id array in the read above tempted
# the planner into scanning the whole outbox index, which is large when the relay lags.
_KNOWN_IDS = """
SELECT tenant_id, session_id, seq, event_id, turn_id FROM ingest.events WHERE event_id = ANY($1::uuid[])
"""
_WRITE = """
WITH inserted AS (
    INSERT INTO ingest.events (tenant_id, session_id, seq, event_id, event_type, schema_version,
                               turn_id, person_id, occurred_at, recorded_at, traceparent, envelope)
    SELECT t, s, q, i, et, v, tu, p, oa, ra, tp, env::jsonb
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::int[],
                $7::bigint[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[])
         AS u(t, s, q, i, et, v, tu, p, oa, ra, tp, env)
    RETURNING id
), outboxed AS (
    INSERT INTO ingest.outbox (id) SELECT id FROM inserted
), planned AS (
    SELECT t, s, q, p, r::jsonb AS r, stored
    FROM unnest($13::text[], $14::text[], $15::bigint[], $16::text[], $18::text[], $19::bool[])
         AS u(t, s, q, p, r, stored)
), advanced AS (
    INSERT INTO ingest.sessions AS s (tenant_id, session_id, last_seq, person_id, room)
    SELECT t, s, q, p, r FROM planned WHERE stored ORDER BY 1, 2
    ON CONFLICT (tenant_id, session_id) DO UPDATE
       SET last_seq = GREATEST(s.last_seq, EXCLUDED.last_seq), updated_at = now(),
           person_id = COALESCE(s.person_id, EXCLUDED.person_id),
           room = COALESCE(EXCLUDED.room, s.room)  -- NULL: this append left the room as it was
), created AS (
    -- no ON CONFLICT: a session the plan saw absent but that exists now (a branch created
    -- meanwhile, whose seqs up to from_seq are its parent's) refuses the whole plan
    INSERT INTO ingest.sessions (tenant_id, session_id, last_seq, person_id, room)
    SELECT t, s, q, p, r FROM planned WHERE NOT stored ORDER BY 1, 2
)
SELECT pg_notify($17, '')  -- data-modifying CTEs always run to completion
"""


@dataclass(frozen=True)
class SessionKey:
    tenant_id: str
    session_id: str


async def read_cursors(
    conn: asyncpg.Connection, keys: Sequence[SessionKey],
    turn_keys: Sequence[tuple[SessionKey, int]], event_ids: Sequence[UUID],
) -> dict[SessionKey, SessionCursor]:
    """Each session's last seq, room and (for a branch) from_seq, and the logged events the
    incoming ids refer to."""
    unique = sorted(set(keys), key=lambda k: (k.tenant_id, k.session_id))
    cursors = {k: SessionCursor(k.tenant_id, k.session_id, 0) for k in unique}
    rows = list(await conn.fetch(
        _READ, [k.tenant_id for k in unique], [k.session_id for k in unique],
        [k.tenant_id for k, _ in turn_keys], [k.session_id for k, _ in turn_keys],
        [t for _, t in turn_keys]))
    if event_ids:
        rows += [{"kind": 1, **dict(r)} for r in await conn.fetch(_KNOWN_IDS, list(event_ids))]
    branches: list[SessionKey] = []
    for r in rows:
        key = SessionKey(r["tenant_id"], r["session_id"])
        if r["kind"] == 0:
            cursors[key].last_seq, cursors[key].stored = r["seq"], True
            if r["room"] is not None:
                cursors[key].room = Room.model_validate_json(r["room"])
            if r["branched_at"] is not None:
                cursors[key].branched_at = r["branched_at"]
                branches.append(key)
            continue
        known = Known(r["seq"], r["event_id"], r["tenant_id"], r["session_id"])
        if key in cursors and r["turn_id"] is not None:
            cursors[key].by_turn[r["turn_id"]] = known
        for cursor in cursors.values():
            cursor.by_event[r["event_id"]] = known
    for key in branches:  # a turn the branch inherited is logged there too: a re-send is a duplicate
        turns = [t for k, t in turn_keys if k == key and t not in cursors[key].by_turn]
        for seq, event_id, turn_id in await branch_store.inherited_turns(
                conn, key.tenant_id, key.session_id, turns) if turns else ():
            cursors[key].by_turn.setdefault(turn_id, Known(seq, event_id, key.tenant_id, key.session_id))
    return cursors


async def write_appends(
    conn: asyncpg.Connection, rows: Sequence[Event], cursors: Sequence[SessionCursor],
    person_ids: dict[tuple[str, str], str | None],
) -> None:
    """Insert the events, advance the sessions (and store changed rooms), wake the relay: one
    atomic statement, so a room decided on a stale read is refused with the plan it came from."""
    ordered = sorted(cursors, key=lambda c: (c.tenant_id, c.session_id))
    await conn.execute(
        _WRITE,
        [e.tenant_id for e in rows], [e.session_id for e in rows], [e.seq for e in rows],
        [e.event_id for e in rows], [e.event_type for e in rows], [e.schema_version for e in rows],
        [e.turn_id for e in rows], [e.person_id for e in rows], [e.occurred_at for e in rows],
        [e.recorded_at for e in rows], [e.traceparent for e in rows],
        [e.to_json_bytes().decode() for e in rows],
        [c.tenant_id for c in ordered], [c.session_id for c in ordered], [c.last_seq for c in ordered],
        [person_ids.get((c.tenant_id, c.session_id)) for c in ordered],
        OUTBOX_CHANNEL,
        [c.room.model_dump_json() if c.room_changed and c.room is not None else None for c in ordered],
        [c.stored for c in ordered],
    )


async def session_last_seq(pool: asyncpg.Pool, tenant: str, session: str) -> int | None:
    with wrap_errors("read session"):
        return await pool.fetchval(
            "SELECT last_seq FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2",
            tenant, session)


async def read_room(pool: asyncpg.Pool, tenant: str, session: str) -> tuple[bool, Room | None]:
    """Whether the session exists, and its room as the last append left it (None: never had one)."""
    with wrap_errors("read room"):
        row = await pool.fetchrow("SELECT room::text AS room FROM ingest.sessions "
                                  "WHERE tenant_id = $1 AND session_id = $2", tenant, session)
    if row is None:
        return False, None
    return True, Room.model_validate_json(row["room"]) if row["room"] is not None else None


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
            "SELECT e.seq, e.event_id, e.event_type, e.turn_id, e.recorded_at, o.published_at "
            "FROM ingest.events e LEFT JOIN ingest.outbox o ON o.id = e.id "
            "WHERE e.tenant_id = $1 AND e.session_id = $2 AND e.seq > $3 "
            "ORDER BY e.seq LIMIT $4", tenant, session, after_seq, limit)
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


UNPUBLISHED_SQL = (
    "SELECT e.id, e.session_id, e.envelope::text AS body, e.traceparent, e.recorded_at "
    "FROM (SELECT id FROM ingest.outbox WHERE published_at IS NULL ORDER BY id LIMIT $1) o "
    "JOIN ingest.events e ON e.id = o.id ORDER BY o.id")


async def fetch_unpublished(conn: asyncpg.Connection, limit: int) -> list[OutboxRow]:
    """The oldest unpublished events, in log order (the leader's plan: `try_lead`)."""
    with wrap_errors("read unpublished events"):
        rows = await conn.fetch(UNPUBLISHED_SQL, limit)
    return [OutboxRow(r["id"], r["session_id"], r["body"].encode(), r["traceparent"],
                      r["recorded_at"]) for r in rows]


async def mark_published(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Mark a published batch, committing without waiting for the WAL flush.

    The mark is a narrow row of `ingest.outbox`, not a column of the log: updating the
    log's row rewrote the whole envelope and every index entry of it (migration 004).
    The mark is bookkeeping, not data: if an OS crash loses it, the relay publishes
    those events again, which every consumer already absorbs (at-least-once delivery,
    checkpoints by seq). Waiting for its flush cost a second fsync per append, queued
    on the same WAL as the appends that must be durable (`set_config(…, true)` is
    SET LOCAL, in the statement so it costs no round trip).
    """
    with wrap_errors("mark events published"):
        await conn.execute(
            "UPDATE ingest.outbox SET published_at = now() "
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS commit_mode "
            "WHERE id = ANY($1::bigint[]) AND published_at IS NULL", list(ids))


async def try_lead(conn: asyncpg.Connection, lock: int) -> bool:
    """Take the relay's leader lock on `conn` if free (session-level advisory lock).

    The leader's connection then plans the outbox read (`UNPUBLISHED_SQL`) as an ordered
    scan of `outbox_unpublished`: no bitmap or sequential scans on it, until the pool's
    reset on release. Statistics taken during a backlog make the planner expect hundreds of
    unpublished rows, and then prefer scanning every outbox row, or a bitmap scan of every
    entry the partial index still holds for rows already marked published (7,000–11,000
    per read under single-event traffic, until a vacuum), each followed by a sort. An
    ordered index scan stops at its LIMIT and marks the entries of dead rows as it passes,
    so later reads skip them. The connection's other statements (the mark, by primary key;
    LISTEN; the lock) have an index plan either way.
    """
    with wrap_errors("take the relay lock"):
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):
            return False
        await conn.execute("SET enable_bitmapscan = off; SET enable_seqscan = off")
        return True


async def stop_leading(conn: asyncpg.Connection, lock: int) -> None:
    with wrap_errors("release the relay lock"):
        await conn.execute("SELECT pg_advisory_unlock($1)", lock)


async def listen_outbox(conn: asyncpg.Connection, listener: Callable[..., None]) -> None:
    """Call `listener` on every commit's NOTIFY (the append statement sends one)."""
    with wrap_errors("listen for appends"):
        await conn.add_listener(OUTBOX_CHANNEL, listener)


async def unlisten_outbox(conn: asyncpg.Connection, listener: Callable[..., None]) -> None:
    with wrap_errors("stop listening for appends"):
        await conn.remove_listener(OUTBOX_CHANNEL, listener)


async def outbox_report(pool: asyncpg.Pool) -> dict[str, Any]:
    """What a WAL repair would re-publish: count, oldest, and the sessions involved."""
    with wrap_errors("read outbox"):
        row = await pool.fetchrow(
            "SELECT count(*) AS n, min(e.recorded_at) AS oldest, "
            "count(DISTINCT (e.tenant_id, e.session_id)) AS sessions "
            "FROM ingest.outbox o JOIN ingest.events e ON e.id = o.id WHERE o.published_at IS NULL")
    return {"unpublished": row["n"], "sessions": row["sessions"],
            "oldest_recorded_at": row["oldest"].isoformat() if row["oldest"] else None}


async def mark_unpublished(pool: asyncpg.Pool, tenant: str, session: str, from_seq: int) -> int:
    """Queue a session's events from `from_seq` for re-publication (projections re-apply)."""
    with wrap_errors("reset published state"):
        status = await pool.execute(
            "UPDATE ingest.outbox o SET published_at = NULL FROM ingest.events e "
            "WHERE e.id = o.id AND e.tenant_id = $1 AND e.session_id = $2 AND e.seq >= $3 "
            "AND o.published_at IS NOT NULL", tenant, session, from_seq)
    return int(status.split()[-1])
