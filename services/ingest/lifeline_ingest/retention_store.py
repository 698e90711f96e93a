"""The SQL of WAL retention: find archivable sessions, read them whole, remove, restore.

Removal and restore each run per session in one transaction holding the session row's
lock, so an append racing a cleanup either lands before it (the session is then skipped:
its `last_seq` moved) or after it (a new session row). Nothing unpublished is ever
removed: the condition is checked again under the lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson

from lifeline_common.errors import ConflictError
from lifeline_ingest.errors import IngestError
from lifeline_ingest.retention import ArchivedEvent, Candidate, SessionEntry, digest
from lifeline_store import StoreConflictError, wrap_errors

_CANDIDATES = """
SELECT s.tenant_id, s.session_id, s.last_seq, count(*) AS events, max(e.recorded_at) AS last_recorded_at
FROM ingest.sessions s JOIN ingest.events e USING (tenant_id, session_id)
LEFT JOIN ingest.outbox o ON o.id = e.id
WHERE s.updated_at < $2 AND ($1::text IS NULL OR s.tenant_id = $1)
  -- a branch's parent stays: its rows are part of the branch's history (ingest.branches' key)
  AND NOT EXISTS (SELECT 1 FROM ingest.branches b
                  WHERE b.tenant_id = s.tenant_id AND b.parent_session_id = s.session_id)
GROUP BY s.tenant_id, s.session_id, s.last_seq
HAVING bool_or(e.event_type = 'session.finished') AND bool_and(o.published_at IS NOT NULL)
   AND max(e.recorded_at) < $2
ORDER BY max(e.recorded_at), s.tenant_id, s.session_id
LIMIT $3
"""
_EVENTS = """
SELECT e.tenant_id, e.session_id, e.seq, o.published_at, e.envelope::text AS envelope
FROM ingest.events e LEFT JOIN ingest.outbox o ON o.id = e.id
WHERE e.tenant_id = $1 AND e.session_id = $2 AND e.seq <= $3 ORDER BY e.seq
"""
_INSERT = """
WITH archived AS (
    SELECT * FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::int[], $7::bigint[], $8::text[],
                         $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::timestamptz[])
         AS u(q, i, et, v, tu, p, oa, ra, tp, env, pa)
), inserted AS (
    INSERT INTO ingest.events (tenant_id, session_id, seq, event_id, event_type, schema_version,
                               turn_id, person_id, occurred_at, recorded_at, traceparent, envelope)
    SELECT $1, $2, q, i, et, v, tu, p, oa, ra, tp, env::jsonb FROM archived
    RETURNING id, seq
)
INSERT INTO ingest.outbox (id, published_at)  -- published as it was: nothing is re-published
SELECT inserted.id, archived.pa FROM inserted JOIN archived ON archived.q = inserted.seq
"""
_SESSION = """
INSERT INTO ingest.sessions AS s (tenant_id, session_id, last_seq, person_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, session_id) DO UPDATE
   SET last_seq = GREATEST(s.last_seq, EXCLUDED.last_seq),
       person_id = COALESCE(s.person_id, EXCLUDED.person_id)
"""

Restored = Literal["restored", "present"]
_CLEANUP_LOCK = "lifeline:wal-cleanup"


class RestoreConflictError(IngestError, ConflictError):
    """The log holds other events where the archive's would go: nothing was written."""


@asynccontextmanager
async def exclusive_cleanup(pool: asyncpg.Pool) -> AsyncIterator[bool]:
    """Hold the cleanup lock (a session-level advisory lock) for the block; False if taken."""
    with wrap_errors("take the cleanup lock"):
        conn = await pool.acquire()
    try:
        with wrap_errors("take the cleanup lock"):
            mine = bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _CLEANUP_LOCK))
        try:
            yield mine
        finally:
            if mine:
                with wrap_errors("release the cleanup lock"):
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _CLEANUP_LOCK)
    finally:
        await pool.release(conn)


async def find_candidates(pool: asyncpg.Pool, tenant: str | None, before: datetime,
                          limit: int) -> list[Candidate]:
    with wrap_errors("find archivable sessions"):
        rows = await pool.fetch(_CANDIDATES, tenant, before, limit)
    return [Candidate(r["tenant_id"], r["session_id"], r["last_seq"], r["events"], r["last_recorded_at"])
            for r in rows]


def _archived(r: asyncpg.Record) -> ArchivedEvent:
    published = r["published_at"].isoformat() if r["published_at"] else None
    return ArchivedEvent(r["tenant_id"], r["session_id"], r["seq"], published, orjson.loads(r["envelope"]))


async def read_session(pool: asyncpg.Pool, tenant: str, session: str
                       ) -> tuple[dict[str, Any], list[ArchivedEvent]] | None:
    """The session row (times as ISO text) and all its events in seq order; None if gone."""
    with wrap_errors("read a session to archive"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            row = await conn.fetchrow(
                "SELECT * FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session)
            if row is None:
                return None
            events = await conn.fetch(_EVENTS, tenant, session, row["last_seq"])
    head = {**dict(row), "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat()}
    return head, [_archived(r) for r in events]


async def remove_session(pool: asyncpg.Pool, entry: SessionEntry) -> str | None:
    """Remove an archived session from the log; None when done, else why it was kept."""
    with wrap_errors("remove an archived session"):
        async with pool.acquire() as conn, conn.transaction():
            last_seq = await conn.fetchval(
                "SELECT last_seq FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2 FOR UPDATE",
                entry.tenant_id, entry.session_id)
            if last_seq != entry.last_seq:
                return f"changed since archived (last_seq {last_seq}, archived {entry.last_seq})"
            counts = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) FILTER (WHERE o.published_at IS NULL) AS unpublished "
                "FROM ingest.events e LEFT JOIN ingest.outbox o ON o.id = e.id "
                "WHERE e.tenant_id = $1 AND e.session_id = $2",
                entry.tenant_id, entry.session_id)
            if counts["unpublished"] or counts["n"] != entry.events:
                return (f"{counts['unpublished']} unpublished of {counts['n']} events "
                        f"(archived {entry.events})")
            await conn.execute(
                "WITH removed AS (DELETE FROM ingest.events WHERE tenant_id = $1 AND session_id = $2 "
                "RETURNING id) DELETE FROM ingest.outbox WHERE id IN (SELECT id FROM removed)",
                entry.tenant_id, entry.session_id)
            await conn.execute("DELETE FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2",
                               entry.tenant_id, entry.session_id)
    return None


async def _logged_digest(conn: asyncpg.Connection, entry: SessionEntry) -> tuple[int, str]:
    rows = await conn.fetch(_EVENTS, entry.tenant_id, entry.session_id, entry.last_seq)
    return len(rows), digest(orjson.loads(r["envelope"]) for r in rows)


def _columns(events: Sequence[ArchivedEvent]) -> list[list[Any]]:
    envs = [e.envelope for e in events]
    when = datetime.fromisoformat
    return [[e.seq for e in events], [env["event_id"] for env in envs], [env["event_type"] for env in envs],
            [env["schema_version"] for env in envs], [env.get("turn_id") for env in envs],
            [env.get("person_id") for env in envs], [when(env["occurred_at"]) for env in envs],
            [when(env["recorded_at"]) for env in envs], [env.get("traceparent") for env in envs],
            [orjson.dumps(env).decode() for env in envs],
            [when(e.published_at) if e.published_at else None for e in events]]


async def restore_session(pool: asyncpg.Pool, entry: SessionEntry,
                          events: Sequence[ArchivedEvent]) -> Restored:
    """Put an archived session back exactly, or find it already there ("present").

    Verified inside the transaction: the re-read log must hash to the manifest's SHA-256,
    else nothing is committed. RestoreConflictError if other events hold those seqs.
    """
    try:
        with wrap_errors("restore an archived session"):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                                   f"wal-restore:{entry.tenant_id}/{entry.session_id}")
                count, sha = await _logged_digest(conn, entry)
                if count:
                    if (count, sha) == (entry.events, entry.sha256):
                        return "present"
                    raise RestoreConflictError(
                        f"the log holds {count} other events in seq 1..{entry.last_seq}")
                await conn.execute(_INSERT, entry.tenant_id, entry.session_id, *_columns(events))
                await conn.execute(_SESSION, entry.tenant_id, entry.session_id, entry.last_seq,
                                   entry.person_id, datetime.fromisoformat(entry.created_at),
                                   datetime.fromisoformat(entry.updated_at))
                if await _logged_digest(conn, entry) != (entry.events, entry.sha256):
                    raise RestoreConflictError("the restored events do not hash to the manifest")
    except StoreConflictError as exc:  # an event id or seq taken meanwhile
        raise RestoreConflictError(str(exc)) from exc
    return "restored"
