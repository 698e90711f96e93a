"""snapshot's SQL: folded session states and snapshot rows (schema ``snapshot``).

Every query is scoped by tenant. Functions taking a connection run inside the
caller's transaction (the projection's, so effects and checkpoint commit together).

A snapshot's state is stored as jsonb (`compression` = 'none': small states and rows
from before compression) or as compressed canonical JSON in `state_blob`, the
algorithm recorded in `compression` (lifeline_store.compression); reading decodes
either, so rows stay readable whatever `LIFELINE_COMPRESSION` says today. Each session's
kept state (`session_state`, rewritten by every batch) is stored the same way
(migration 005).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from lifeline_events import canonical_json
from lifeline_snapshot.domain import SnapshotDraft, SnapshotRow
from lifeline_store import wrap_errors
from lifeline_store.compression import (
    NONE,
    CompressionPolicy,
    CorruptBlobError,
    json_column_arrays,
    json_document,
)

_COLUMNS = "id, tenant_id, session_id, at_seq, content_hash, label, trigger, created_at"
_STATE = "state, state_blob, compression"


def _state(record: asyncpg.Record) -> dict[str, Any] | None:
    """The row's state, decompressed if it was stored compressed; CorruptBlobError if it cannot be."""
    state = json_document(record, f"snapshot {record['id']!r}")
    if state is not None and not isinstance(state, dict):
        raise CorruptBlobError(record["compression"], f"snapshot {record['id']!r}: not a JSON object")
    return state


def _row(record: asyncpg.Record) -> SnapshotRow:
    return SnapshotRow(id=record["id"], tenant_id=record["tenant_id"], session_id=record["session_id"],
                       at_seq=record["at_seq"], content_hash=record["content_hash"],
                       label=record["label"], trigger=record["trigger"], created_at=record["created_at"],
                       state=_state(record))


async def load_state(conn: asyncpg.Connection | asyncpg.Pool, tenant: str,
                     session: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_STATE} FROM snapshot.session_state WHERE tenant_id = $1 AND session_id = $2",
        tenant, session)
    return None if row is None else json_document(row, f"state of session {session!r}")


async def read_state(pool: asyncpg.Pool, tenant: str, session: str) -> dict[str, Any] | None:
    with wrap_errors("read session state"):
        return await load_state(pool, tenant, session)


async def insert_snapshot(conn: asyncpg.Connection, tenant: str, session: str,
                          snap: SnapshotDraft, compression: CompressionPolicy) -> tuple[SnapshotRow, bool]:
    """Store ``snap`` unless the session already has its hash; (row, created).

    The state is compressed as ``compression`` says (its canonical JSON, the bytes the
    hash is over). On a duplicate the existing row is returned; a label given now fills
    an empty one.
    """
    blob, algorithm = compression.encode(canonical_json(snap.state))
    compressed = algorithm != NONE
    record = await conn.fetchrow(
        "INSERT INTO snapshot.snapshots (id, tenant_id, session_id, at_seq, content_hash, state, state_blob, "
        "compression, person_id, label, trigger) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (tenant_id, session_id, content_hash) DO UPDATE "
        "SET label = COALESCE(snapshot.snapshots.label, EXCLUDED.label) "
        f"RETURNING {_COLUMNS}, (xmax = 0) AS inserted",
        snap.id, tenant, session, snap.at_seq, snap.content_hash, None if compressed else snap.state,
        blob if compressed else None, algorithm, snap.state.get("person_id"), snap.label, snap.trigger)
    return _row(record), bool(record["inserted"])


async def insert_snapshots(conn: asyncpg.Connection, drafts: Sequence[tuple[str, str, SnapshotDraft]],
                           compression: CompressionPolicy) -> set[str]:
    """Store a batch's automatic snapshots, (tenant, session, draft) each, in one statement;
    the ids of those created. Like `insert_snapshot` per draft, in order: a draft whose hash
    the session already has (stored, or earlier in `drafts`) is not stored. The drafts carry
    no label (none to fill in), so a duplicate is simply skipped."""
    seen: set[tuple[str, str, str]] = set()
    rows = []
    for tenant, session, snap in drafts:
        if (tenant, session, snap.content_hash) in seen:
            continue
        seen.add((tenant, session, snap.content_hash))
        text = canonical_json(snap.state)
        blob, algorithm = compression.encode(text)
        compressed = algorithm != NONE
        rows.append((snap.id, tenant, session, snap.at_seq, snap.content_hash,
                     None if compressed else text.decode(), blob if compressed else None, algorithm,
                     snap.state.get("person_id"), snap.label, snap.trigger))
    if not rows:
        return set()
    records = await conn.fetch(
        "INSERT INTO snapshot.snapshots (id, tenant_id, session_id, at_seq, content_hash, state, state_blob, "
        "compression, person_id, label, trigger) SELECT i, t, s, q, h, j::jsonb, b, c, p, l, g "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], "
        "            $8::text[], $9::text[], $10::text[], $11::text[]) AS u(i, t, s, q, h, j, b, c, p, l, g) "
        "ON CONFLICT (tenant_id, session_id, content_hash) DO NOTHING RETURNING id",
        *([r[i] for r in rows] for i in range(11)))
    return {r["id"] for r in records}


async def retain_newest_of(conn: asyncpg.Connection, sessions: Sequence[tuple[str, str]], keep: int) -> int:
    """Delete all but the ``keep`` newest snapshots of each (tenant, session) (0 keeps all), in
    one statement; versions (snapshots with a message) are neither counted nor deleted."""
    if keep <= 0 or not sessions:
        return 0
    status = await conn.execute(
        "DELETE FROM snapshot.snapshots WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
        "(PARTITION BY tenant_id, session_id ORDER BY at_seq DESC, id DESC) AS n FROM snapshot.snapshots "
        "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
        "AND message IS NULL) ranked WHERE n > $3)",
        [k[0] for k in sessions], [k[1] for k in sessions], keep)
    return int(status.split()[-1])


async def retain_newest_everywhere(pool: asyncpg.Pool, keep: int) -> int:
    """Count retention across every session (the periodic job; e.g. after KEEP was lowered)."""
    if keep <= 0:
        return 0
    with wrap_errors("count retention"):
        status = await pool.execute(
            "DELETE FROM snapshot.snapshots WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
            "(PARTITION BY tenant_id, session_id ORDER BY at_seq DESC, id DESC) AS n "
            "FROM snapshot.snapshots WHERE message IS NULL) ranked WHERE n > $1)", keep)
    return int(status.split()[-1])


async def storage(pool: asyncpg.Pool) -> tuple[int, int]:
    """(snapshots, bytes of their states) across every tenant, for the storage gauges."""
    with wrap_errors("snapshot storage"):
        row = await pool.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(coalesce(pg_column_size(state), 0) "
            "+ coalesce(pg_column_size(state_blob), 0)), 0) AS bytes FROM snapshot.snapshots")
    return int(row["n"]), int(row["bytes"])


async def delete_older_than(pool: asyncpg.Pool, days: float) -> int:
    """Age retention across every session (the periodic job); versions are kept."""
    if days <= 0:
        return 0
    with wrap_errors("age retention"):
        status = await pool.execute(
            "DELETE FROM snapshot.snapshots WHERE created_at < now() - make_interval(secs => $1) "
            "AND message IS NULL",
            days * 86400.0)
    return int(status.split()[-1])


async def list_snapshots(pool: asyncpg.Pool, tenant: str, session: str) -> list[SnapshotRow]:
    with wrap_errors("list snapshots"):
        records = await pool.fetch(
            f"SELECT {_COLUMNS} FROM snapshot.snapshots WHERE tenant_id = $1 AND session_id = $2 "
            "ORDER BY at_seq DESC, id DESC", tenant, session)
    return [_row(r) for r in records]


async def get_snapshot(pool: asyncpg.Pool, tenant: str, session: str, snapshot_id: str) -> SnapshotRow | None:
    with wrap_errors("read snapshot"):
        record = await pool.fetchrow(
            f"SELECT {_COLUMNS}, {_STATE} FROM snapshot.snapshots "
            "WHERE tenant_id = $1 AND session_id = $2 AND id = $3", tenant, session, snapshot_id)
    return _row(record) if record else None


async def snapshots_with_state(pool: asyncpg.Pool, tenant: str, session: str) -> list[SnapshotRow]:
    with wrap_errors("read snapshots"):
        records = await pool.fetch(
            f"SELECT {_COLUMNS}, {_STATE} FROM snapshot.snapshots WHERE tenant_id = $1 AND session_id = $2 "
            "ORDER BY at_seq, id", tenant, session)
    return [_row(r) for r in records]


async def delete_snapshot(pool: asyncpg.Pool, tenant: str, session: str, snapshot_id: str) -> bool:
    with wrap_errors("delete snapshot"):
        status = await pool.execute(
            "DELETE FROM snapshot.snapshots WHERE tenant_id = $1 AND session_id = $2 AND id = $3",
            tenant, session, snapshot_id)
    return status.endswith(" 1")


_UNANNOUNCED = (f"SELECT {_COLUMNS}, coalesce(person_id, state->>'person_id') AS person_id "
                "FROM snapshot.snapshots WHERE announced_at IS NULL ")


async def unannounced(pool: asyncpg.Pool, *, tenant: str | None = None, session: str | None = None,
                      limit: int = 500) -> list[tuple[SnapshotRow, str | None]]:
    """Snapshots whose ``snapshot.created`` is not published yet, oldest first, with person id."""
    with wrap_errors("read unannounced snapshots"):
        records = await pool.fetch(
            _UNANNOUNCED + "AND ($1::text IS NULL OR tenant_id = $1) "
            "AND ($2::text IS NULL OR session_id = $2) ORDER BY created_at, id LIMIT $3",
            tenant, session, limit)
    return [(_row(r), r["person_id"]) for r in records]


async def unannounced_of(pool: asyncpg.Pool, sessions: Sequence[tuple[str, str]],
                         limit: int = 500) -> list[tuple[SnapshotRow, str | None]]:
    """`unannounced` for several (tenant, session) at once (a batch's), in one query."""
    with wrap_errors("read unannounced snapshots"):
        records = await pool.fetch(
            _UNANNOUNCED + "AND (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
            "ORDER BY created_at, id LIMIT $3",
            [k[0] for k in sessions], [k[1] for k in sessions], limit)
    return [(_row(r), r["person_id"]) for r in records]


async def mark_announced(pool: asyncpg.Pool, ids: list[str]) -> None:
    with wrap_errors("mark snapshots announced"):
        await pool.execute("UPDATE snapshot.snapshots SET announced_at = now() WHERE id = ANY($1::text[])",
                           ids)


async def projected_seq(pool: asyncpg.Pool, tenant: str, session: str) -> int | None:
    """The projection's checkpoint for a session (None if it never saw the session)."""
    with wrap_errors("read checkpoint"):
        return await pool.fetchval(
            "SELECT last_seq FROM snapshot.checkpoints WHERE tenant_id = $1 AND session_id = $2",
            tenant, session)


async def load_states(conn: asyncpg.Connection,
                      keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The folded state of each (tenant, session) that has one, in one query."""
    rows = await conn.fetch(
        f"SELECT tenant_id, session_id, {_STATE} FROM snapshot.session_state "
        "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r["tenant_id"], r["session_id"]): json_document(r, f"state of session {r['session_id']!r}")
            for r in rows}


async def save_states(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, bytes]],
                      compression: CompressionPolicy) -> None:
    """Upsert (tenant, session, seq, state's canonical JSON) rows in one statement, each state
    compressed by `compression` (`json_columns`): under single-event traffic every batch
    rewrites its sessions' ~6-7 KB states, and PostgreSQL's own TOAST compression of them
    (pglz) was most of this statement's time (issue 10)."""
    states, blobs, algorithms = json_column_arrays(compression, (r[3] for r in rows))
    await conn.execute(
        "INSERT INTO snapshot.session_state (tenant_id, session_id, seq, state, state_blob, compression) "
        "SELECT t, s, q, j::json, b, c "
        "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::text[]) "
        "     AS u(t, s, q, j, b, c) "
        "ON CONFLICT (tenant_id, session_id) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state, "
        "state_blob = EXCLUDED.state_blob, compression = EXCLUDED.compression, updated_at = now()",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
        states, blobs, algorithms)
