"""trace-store's fold state per session (`traces.sessions`): where the next event's context
starts, stored compressed by the service (`LIFELINE_COMPRESSION`, migration 006) or, under
`LIFELINE_COMPRESS_MIN_BYTES` and from before, as `json`; the person and the branch
origin that SQL reads sit in columns of their own beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from lifeline_store.compression import CompressionPolicy, json_column_arrays, json_document

_STATE = "state, state_blob, compression"


@dataclass(frozen=True)
class SavedSession:
    """A session's fold state to save: its canonical JSON at `last_seq`, and what SQL reads
    inside it kept beside it (the person, the branch origin as JSON)."""

    tenant_id: str
    session_id: str
    last_seq: int
    state: bytes
    person_id: str | None
    branched_from: str | None


async def load_sessions(conn: asyncpg.Connection,
                        keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The fold's state of each (tenant, session) that has one (the projection holds their locks)."""
    rows = await conn.fetch(
        f"SELECT tenant_id, session_id, {_STATE} FROM traces.sessions "
        "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "AND (state IS NOT NULL OR state_blob IS NOT NULL)", [k[0] for k in keys], [k[1] for k in keys])
    return {(r["tenant_id"], r["session_id"]): json_document(r, f"state of session {r['session_id']!r}")
            for r in rows}


async def save_sessions(conn: asyncpg.Connection, saved: Sequence[SavedSession],
                        compression: CompressionPolicy) -> None:
    """Upsert each session's (last_seq, state) in one statement, the state compressed by
    `compression` (`json_columns`: PostgreSQL's own pglz compression of ~6-7 KB states on
    every batch was most of this statement's time, issue 10)."""
    states, blobs, algorithms = json_column_arrays(compression, (x.state for x in saved))
    await conn.execute(
        "INSERT INTO traces.sessions AS s (tenant_id, session_id, last_seq, state, state_blob, compression, "
        "person_id, branched_from) "
        "SELECT t, ss, q, j::json, b, c, p, o::json "
        "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::text[], $7::text[], "
        "            $8::text[]) AS u(t, ss, q, j, b, c, p, o) "
        "ON CONFLICT (tenant_id, session_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, "
        "state = EXCLUDED.state, state_blob = EXCLUDED.state_blob, compression = EXCLUDED.compression, "
        "person_id = EXCLUDED.person_id, branched_from = EXCLUDED.branched_from, updated_at = now()",
        [x.tenant_id for x in saved], [x.session_id for x in saved], [x.last_seq for x in saved],
        states, blobs, algorithms,
        [x.person_id for x in saved], [x.branched_from for x in saved])


async def latest_states(conn: asyncpg.Connection, tenant: str,
                        sessions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The fold's latest state of each session that has one."""
    rows = await conn.fetch(
        f"SELECT session_id, {_STATE} FROM traces.sessions WHERE tenant_id = $1 "
        "AND session_id = ANY($2::text[]) AND (state IS NOT NULL OR state_blob IS NOT NULL)",
        tenant, list(sessions))
    return {r["session_id"]: json_document(r, f"state of session {r['session_id']!r}") for r in rows}


async def session_person(pool: asyncpg.Pool, tenant: str, session: str) -> tuple[bool, str | None]:
    """Whether trace-store knows the session, and the person of its folded state (rows last
    written before migration 006 by a pod of an earlier release: read from the state)."""
    row = await pool.fetchrow(
        "SELECT coalesce(person_id, state->>'person_id') AS person_id FROM traces.sessions "
        "WHERE tenant_id = $1 AND session_id = $2", tenant, session)
    return row is not None, row["person_id"] if row is not None else None
