"""replay's SQL: the durable head state per session and its periodic snapshots.

The head row is written in the projection's transaction, next to its checkpoint, so
after a crash PostgreSQL always holds a state that matches the checkpoint exactly. A
head is stored compressed by the service (`LIFELINE_COMPRESSION`, migration 002) or,
under `LIFELINE_COMPRESS_MIN_BYTES` and from before that, as `json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from lifeline_store import wrap_errors
from lifeline_store.compression import CompressionPolicy, json_column_arrays, json_document


@dataclass(frozen=True)
class StoredState:
    """A state row: `state` is the JSON document (a dict), `recorded_at` its last event's time."""

    seq: int
    state: dict[str, Any]
    recorded_at: datetime | None


_HEAD = "seq, state, state_blob, compression, recorded_at"


def _stored(row: asyncpg.Record) -> StoredState:
    """A head (or snapshot: never compressed) row's state, decompressed where it was stored so."""
    state = json_document(row, f"head of session {row.get('session_id')!r}")
    return StoredState(int(row["seq"]), state, row["recorded_at"])


async def load_head(conn: asyncpg.Connection | asyncpg.Pool, tenant: str, session: str) -> StoredState | None:
    with wrap_errors("read replay head"):
        row = await conn.fetchrow(
            f"SELECT session_id, {_HEAD} FROM replay.sessions WHERE tenant_id = $1 AND session_id = $2",
            tenant, session)
    return None if row is None else _stored(row)


async def load_heads(conn: asyncpg.Connection,
                     keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
    """The heads of the sessions that have one, in one query."""
    with wrap_errors("read replay heads"):
        rows = await conn.fetch(
            f"SELECT tenant_id, session_id, {_HEAD} FROM replay.sessions "
            "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [k[0] for k in keys], [k[1] for k in keys])
    return {(r["tenant_id"], r["session_id"]): _stored(r) for r in rows}


@dataclass(frozen=True)
class Head:
    """A head to save: the session's folded state (canonical JSON) at `seq`."""

    tenant_id: str
    session_id: str
    seq: int
    state: bytes
    recorded_at: datetime | None


async def save_heads(conn: asyncpg.Connection, heads: Sequence[Head], compression: CompressionPolicy, *,
                     sync_commit: bool = True) -> None:
    """Upsert the batch's heads in one statement, each compressed by `compression`
    (`json_columns`: PostgreSQL's own pglz compression of ~6-7 KB heads was most of this
    statement's time, issue 10); `sync_commit=False` also makes the enclosing transaction
    commit without waiting for the WAL flush (`set_config(…, is_local)` is SET LOCAL, run
    here so it costs no round trip of its own)."""
    states, blobs, algorithms = json_column_arrays(compression, (h.state for h in heads))
    with wrap_errors("write replay heads"):
        await conn.execute(
            "INSERT INTO replay.sessions (tenant_id, session_id, seq, state, state_blob, compression, "
            "recorded_at) "
            "SELECT t, s, q, j::json, b, c, r "
            "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::text[], "
            "            $7::timestamptz[]) AS u(t, s, q, j, b, c, r), "
            "     (SELECT set_config('synchronous_commit', $8, true)) AS commit_mode "
            "ON CONFLICT (tenant_id, session_id) DO UPDATE "
            "SET seq = EXCLUDED.seq, state = EXCLUDED.state, state_blob = EXCLUDED.state_blob, "
            "compression = EXCLUDED.compression, recorded_at = EXCLUDED.recorded_at, updated_at = now()",
            [h.tenant_id for h in heads], [h.session_id for h in heads], [h.seq for h in heads],
            states, blobs, algorithms,
            [h.recorded_at for h in heads], "on" if sync_commit else "off")


@dataclass(frozen=True)
class Snapshot:
    """A snapshot to save: the session's folded state (canonical JSON) at `seq` and its hash."""

    tenant_id: str
    session_id: str
    seq: int
    state_json: str
    content_hash: str
    recorded_at: datetime | None


async def save_snapshots(conn: asyncpg.Connection, snapshots: Sequence[Snapshot], keep: int) -> None:
    """Store a batch's snapshots (one statement) and drop all but the `keep` newest of each of
    their sessions (one more; 0 keeps all) — two statements per batch, not two per snapshot."""
    with wrap_errors("write replay snapshots"):
        await conn.execute(
            "INSERT INTO replay.snapshots (tenant_id, session_id, seq, content_hash, state, recorded_at) "
            "SELECT t, s, q, h, j::jsonb, r "
            "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[]) "
            "     AS u(t, s, q, h, j, r) ON CONFLICT DO NOTHING",
            [s.tenant_id for s in snapshots], [s.session_id for s in snapshots], [s.seq for s in snapshots],
            [s.content_hash for s in snapshots], [s.state_json for s in snapshots],
            [s.recorded_at for s in snapshots])
        if keep <= 0:
            return
        sessions = sorted({(s.tenant_id, s.session_id) for s in snapshots})
        await conn.execute(
            "DELETE FROM replay.snapshots d USING ("
            " SELECT t, s, (SELECT seq FROM replay.snapshots WHERE tenant_id = t AND session_id = s"
            "               ORDER BY seq DESC OFFSET $3 LIMIT 1) AS oldest_kept"
            " FROM unnest($1::text[], $2::text[]) AS u(t, s)) k "
            "WHERE d.tenant_id = k.t AND d.session_id = k.s AND d.seq < k.oldest_kept",
            [t for t, _ in sessions], [s for _, s in sessions], keep - 1)


async def snapshot_until(pool: asyncpg.Pool, tenant: str, session: str, *, seq: int | None = None,
                         at: datetime | None = None) -> StoredState | None:
    """The newest snapshot at or before `seq` (or whose last event is at or before `at`)."""
    with wrap_errors("read replay snapshot"):
        if at is not None:
            row = await pool.fetchrow(
                "SELECT seq, state, recorded_at FROM replay.snapshots WHERE tenant_id = $1 "
                "AND session_id = $2 AND recorded_at <= $3 ORDER BY seq DESC LIMIT 1", tenant, session, at)
        else:
            row = await pool.fetchrow(
                "SELECT seq, state, recorded_at FROM replay.snapshots WHERE tenant_id = $1 "
                "AND session_id = $2 AND seq <= $3 ORDER BY seq DESC LIMIT 1", tenant, session, seq)
    return None if row is None else _stored(row)


async def snapshot_count(pool: asyncpg.Pool, tenant: str, session: str) -> int:
    with wrap_errors("count replay snapshots"):
        return int(await pool.fetchval(
            "SELECT count(*) FROM replay.snapshots WHERE tenant_id = $1 AND session_id = $2",
            tenant, session))
