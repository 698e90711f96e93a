"""Per-session checkpoints: how far a projection has applied each session.

`<schema>.checkpoints` holds the last applied seq per (tenant, session). It only
grows, and only in the transaction that applies the events it covers, so comparing
with it is how a redelivered event is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from lifeline_projection.batch import SessionKey
from lifeline_store import wrap_errors

_DDL = """
CREATE TABLE IF NOT EXISTS "{schema}".checkpoints (
    tenant_id  text NOT NULL,
    session_id text NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
)"""


def _columns(keys: Sequence[SessionKey]) -> tuple[list[str], list[str]]:
    return [k.tenant_id for k in keys], [k.session_id for k in keys]


class Checkpoints:
    """The checkpoint table of one projection's schema."""

    def __init__(self, schema: str) -> None:
        self._table = f'"{schema}".checkpoints'
        self._schema = schema

    async def ensure(self, pool: asyncpg.Pool) -> None:
        """Create the table once, however many replicas start together.

        Concurrent `CREATE ... IF NOT EXISTS` is not safe in PostgreSQL: two replicas
        starting at once both miss the table and one fails on pg_type's unique index. A
        transaction-scoped advisory lock per schema makes them take turns.
        """
        with wrap_errors(f"create {self._table}"):
            async with pool.acquire() as conn, conn.transaction():
                lock = f"checkpoints:{self._schema}"
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock)
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                await conn.execute(_DDL.format(schema=self._schema))

    async def read(self, pool: asyncpg.Pool | asyncpg.Connection,
                   keys: Sequence[SessionKey]) -> dict[SessionKey, int]:
        """Last applied seq per key (0 when unseen), without locking: a lower bound."""
        tenants, sessions = _columns(keys)
        with wrap_errors("read checkpoints"):
            rows = await pool.fetch(
                f"SELECT tenant_id, session_id, last_seq FROM {self._table} "
                "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
                tenants, sessions)
        found = {SessionKey(r["tenant_id"], r["session_id"]): int(r["last_seq"]) for r in rows}
        return {k: found.get(k, 0) for k in keys}

    async def lock(self, conn: asyncpg.Connection, keys: Sequence[SessionKey]) -> dict[SessionKey, int]:
        """Lock the keys' rows (creating missing ones) in key order; their last seq each.

        One statement: the no-op `DO UPDATE` takes the row lock of an existing row and
        RETURNING gives its committed `last_seq` (0 for a row just inserted), which an
        INSERT … DO NOTHING followed by SELECT … FOR UPDATE did in two round trips.
        """
        tenants, sessions = _columns(sorted(keys))
        rows = await conn.fetch(
            f"INSERT INTO {self._table} AS c (tenant_id, session_id) "
            "SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2 "
            "ON CONFLICT (tenant_id, session_id) DO UPDATE SET last_seq = c.last_seq "
            "RETURNING tenant_id, session_id, last_seq", tenants, sessions)
        return {SessionKey(r["tenant_id"], r["session_id"]): int(r["last_seq"]) for r in rows}

    async def advance(self, conn: asyncpg.Connection, last: Mapping[SessionKey, int]) -> None:
        """Move each key's checkpoint to its new last seq, in one statement."""
        keys = sorted(last)
        tenants, sessions = _columns(keys)
        await conn.execute(
            f"UPDATE {self._table} AS c SET last_seq = u.seq, updated_at = now() "
            "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(tenant_id, session_id, seq) "
            "WHERE c.tenant_id = u.tenant_id AND c.session_id = u.session_id",
            tenants, sessions, [last[k] for k in keys])
