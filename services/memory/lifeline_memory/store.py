"""memory's SQL for the projection and the consolidator (reads for the API: ``queries.py``).

Every function takes an open connection, so the caller decides the transaction:
the projection's batch, the consolidator's person lock, an admin's correction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from lifeline_memory.digest import Suppression
from lifeline_memory.observe import Observation
from lifeline_memory.scalars import SessionScalars

S = "memory"


async def load_scalars(
    conn: asyncpg.Connection, tenant: str, sessions: Sequence[str]
) -> dict[str, SessionScalars]:
    rows = await conn.fetch(
        f"SELECT session_id, acc FROM {S}.session_state "
        "WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
        tenant,
        list(sessions),
    )
    return {r["session_id"]: SessionScalars.from_json(r["acc"]) for r in rows}


async def save_scalars(
    conn: asyncpg.Connection, tenant: str, rows: Sequence[tuple[str, SessionScalars]]
) -> None:
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO {S}.session_state (tenant_id, session_id, person_id, seq, acc) "
        "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::jsonb[]) "
        "ON CONFLICT (tenant_id, session_id) DO UPDATE SET person_id = EXCLUDED.person_id, "
        "seq = EXCLUDED.seq, acc = EXCLUDED.acc, updated_at = now()",
        tenant,
        [s for s, _ in rows],
        [c.person_id for _, c in rows],
        [c.seq for _, c in rows],
        [c.to_json() for _, c in rows],
    )


async def insert_observations(
    conn: asyncpg.Connection, tenant: str, rows: Sequence[tuple[str, Observation]]
) -> None:
    """One statement for the whole batch; a redelivered observation inserts nothing."""
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO {S}.observations (tenant_id, session_id, seq, kind, code, source, turn_id, "
        "intent, value, event_id, occurred_at, recorded_at) "
        "SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], "
        "$7::bigint[], $8::text[], $9::jsonb[], $10::uuid[], $11::timestamptz[], $12::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        tenant,
        [s for s, _ in rows],
        [o.seq for _, o in rows],
        [o.kind for _, o in rows],
        [o.code for _, o in rows],
        [o.source for _, o in rows],
        [o.turn_id for _, o in rows],
        [o.intent for _, o in rows],
        [o.value for _, o in rows],
        [UUID(o.event_id) for _, o in rows],
        [o.occurred_at for _, o in rows],
        [o.recorded_at for _, o in rows],
    )


async def load_observations(conn: asyncpg.Connection, tenant: str, session: str) -> list[Observation]:
    rows = await conn.fetch(
        f"SELECT seq, kind, code, source, turn_id, intent, value, event_id, occurred_at, recorded_at "
        f"FROM {S}.observations WHERE tenant_id = $1 AND session_id = $2",
        tenant,
        session,
    )
    return [
        Observation(
            seq=r["seq"],
            kind=r["kind"],
            code=r["code"],
            source=r["source"],
            turn_id=r["turn_id"],
            intent=r["intent"],
            event_id=str(r["event_id"]),
            occurred_at=r["occurred_at"],
            recorded_at=r["recorded_at"],
            value=r["value"],
        )
        for r in rows
    ]


async def load_suppressions(conn: asyncpg.Connection, tenant: str, person: str) -> list[Suppression]:
    rows = await conn.fetch(
        f"SELECT kind, code, session_id, turn_id FROM {S}.suppressions "
        "WHERE tenant_id = $1 AND person_id = $2",
        tenant,
        person,
    )
    return [Suppression(r["kind"], r["code"], r["session_id"], r["turn_id"]) for r in rows]


async def upsert_digest(
    conn: asyncpg.Connection,
    tenant: str,
    person: str,
    digest: dict[str, Any],
    digest_hash: str,
    finished_at: Any,
) -> None:
    await conn.execute(
        f"INSERT INTO {S}.session_digests (tenant_id, session_id, person_id, status, through_seq, "
        "finished_at, digest, digest_hash, algorithm, rules_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
        "ON CONFLICT (tenant_id, session_id) DO UPDATE SET person_id = EXCLUDED.person_id, "
        "status = EXCLUDED.status, through_seq = EXCLUDED.through_seq, finished_at = EXCLUDED.finished_at, "
        "digest = EXCLUDED.digest, digest_hash = EXCLUDED.digest_hash, algorithm = EXCLUDED.algorithm, "
        "rules_hash = EXCLUDED.rules_hash, sealed_at = now() "
        "WHERE session_digests.digest_hash IS DISTINCT FROM EXCLUDED.digest_hash",
        tenant,
        digest["session_id"],
        person,
        digest["status"],
        digest["through_seq"],
        finished_at,
        digest,
        digest_hash,
        digest["algorithm"],
        digest["rules_hash"],
    )


async def mark_dirty(
    conn: asyncpg.Connection,
    tenant: str,
    person: str,
    session: str | None,
    seq: int | None,
    traceparent: str | None,
) -> None:
    await conn.execute(
        f"INSERT INTO {S}.persons (tenant_id, person_id, dirty_since, dirty_session, dirty_seq, "
        "dirty_traceparent) VALUES ($1, $2, now(), $3, $4, $5) ON CONFLICT (tenant_id, person_id) DO UPDATE "
        "SET dirty_since = COALESCE(persons.dirty_since, now()), dirty_session = EXCLUDED.dirty_session, "
        "dirty_seq = EXCLUDED.dirty_seq, dirty_traceparent = EXCLUDED.dirty_traceparent",
        tenant,
        person,
        session,
        seq,
        traceparent,
    )


async def tombstones_for(
    conn: asyncpg.Connection, tenant: str, persons: Sequence[str], sessions: Sequence[str]
) -> list[asyncpg.Record]:
    """Tombstones of these persons (whole-person) or these sessions."""
    return list(
        await conn.fetch(
            f"SELECT person_id, session_id, forgotten_at, block_future FROM {S}.tombstones "
            "WHERE tenant_id = $1 "
            "AND ((session_id = '' AND person_id = ANY($2::text[])) OR session_id = ANY($3::text[]))",
            tenant,
            list(persons),
            list(sessions),
        )
    )


async def lock_person(conn: asyncpg.Connection, tenant: str, person: str) -> asyncpg.Record | None:
    await conn.execute(
        f"INSERT INTO {S}.persons (tenant_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant,
        person,
    )
    return await conn.fetchrow(
        f"SELECT * FROM {S}.persons WHERE tenant_id = $1 AND person_id = $2 FOR UPDATE", tenant, person
    )


async def person_digests(
    conn: asyncpg.Connection, tenant: str, person: str, limit: int, cache: DigestCache | None = None
) -> list[dict[str, Any]]:
    """The person's most recent digests; tombstoned sessions are never returned. With a cache,
    only digests whose hash it does not hold are read and decoded (a person with 200 prior
    sessions costs one narrow query, not 200 documents)."""
    rows = await conn.fetch(
        f"SELECT d.session_id, d.digest_hash FROM {S}.session_digests d WHERE d.tenant_id = $1 "
        f"AND d.person_id = $2 AND NOT EXISTS (SELECT 1 FROM {S}.tombstones t "
        "WHERE t.tenant_id = d.tenant_id AND t.person_id = d.person_id AND t.session_id = d.session_id) "
        "ORDER BY d.finished_at DESC, d.session_id DESC LIMIT $3",
        tenant,
        person,
        limit,
    )
    cache = cache if cache is not None else DigestCache(0)
    wanted = [(r["session_id"], r["digest_hash"]) for r in rows]
    missing = [s for s, h in wanted if cache.get(tenant, s, h) is None]
    if missing:
        for r in await conn.fetch(
            f"SELECT session_id, digest, digest_hash FROM {S}.session_digests "
            "WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
            tenant,
            missing,
        ):
            cache.put(tenant, r["session_id"], r["digest_hash"], r["digest"])
    found = [cache.get(tenant, s, h) for s, h in wanted]
    return [d for d in found if d is not None]


class DigestCache:
    """Decoded digests by (tenant, session, digest hash), least recently used out. A digest
    is immutable for its hash, so a hit can never be stale."""

    def __init__(self, size: int = 5_000) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._spill: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get(self, tenant: str, session: str, digest_hash: str) -> dict[str, Any] | None:
        key = (tenant, session, digest_hash)
        hit = self._entries.get(key) or self._spill.get(key)
        if hit is not None and key in self._entries:
            self._entries.move_to_end(key)
        return hit

    def put(self, tenant: str, session: str, digest_hash: str, digest: dict[str, Any]) -> None:
        key = (tenant, session, digest_hash)
        if self._size <= 0:  # no cache: keep just this read's documents
            self._spill[key] = digest
            return
        self._entries[key] = digest
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


async def sessions_of_person(conn: asyncpg.Connection, tenant: str, person: str) -> list[str]:
    rows = await conn.fetch(
        f"SELECT session_id FROM {S}.session_state WHERE tenant_id = $1 AND person_id = $2 UNION "
        f"SELECT session_id FROM {S}.session_digests WHERE tenant_id = $1 AND person_id = $2 ORDER BY 1",
        tenant,
        person,
    )
    return [r["session_id"] for r in rows]


async def load_scalars_one(conn: asyncpg.Connection, tenant: str, session: str) -> SessionScalars | None:
    return (await load_scalars(conn, tenant, [session])).get(session)


async def observation_keys(
    conn: asyncpg.Connection, tenant: str, session: str
) -> set[tuple[int, str, str, str]]:
    """The stored observations' keys (cheap: no values), to tell whether a rebuild changes them."""
    rows = await conn.fetch(
        f"SELECT seq, kind, code, source FROM {S}.observations WHERE tenant_id = $1 AND session_id = $2",
        tenant,
        session,
    )
    return {(r["seq"], r["kind"], r["code"], r["source"]) for r in rows}
