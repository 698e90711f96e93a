"""memory's reads for the API: profiles, versions, evidence, digests, suppressions."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import asyncpg

from lifeline_memory.errors import PersonForgottenError, PersonNotFoundError
from lifeline_store import wrap_errors

S = "memory"
P = ParamSpec("P")
R = TypeVar("R")


def _read(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """asyncpg's errors leave as store errors (a database outage answers 503, not 500)."""

    @functools.wraps(fn)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with wrap_errors(f"read {fn.__name__.replace('_', ' ')}"):
            return await fn(*args, **kwargs)

    return wrapped


@_read
async def person_row(pool: asyncpg.Pool, tenant: str, person: str, column: str) -> asyncpg.Record:
    """The person's row with ``column`` (profile or bias); 404/410 when there is none."""
    row = await pool.fetchrow(
        f"SELECT version, consolidated_at, dirty_since, {column} AS body "
        f"FROM {S}.persons WHERE tenant_id = $1 AND person_id = $2",
        tenant,
        person,
    )
    if row is not None and row["body"] is not None:
        return row
    await raise_missing(pool, tenant, person)
    raise AssertionError("unreachable")


@_read
async def raise_missing(pool: asyncpg.Pool | asyncpg.Connection, tenant: str, person: str) -> None:
    tomb = await pool.fetchrow(
        f"SELECT forgotten_at FROM {S}.tombstones WHERE tenant_id = $1 "
        "AND person_id = $2 AND session_id = ''",
        tenant,
        person,
    )
    if tomb is not None:
        raise PersonForgottenError(person, tomb["forgotten_at"])
    raise PersonNotFoundError(f"no profile for person {person!r} in this tenant")


@_read
async def version_profile(
    pool: asyncpg.Pool, tenant: str, person: str, version: int
) -> asyncpg.Record | None:
    return await pool.fetchrow(
        f"SELECT version, created_at, profile FROM {S}.profile_versions "
        "WHERE tenant_id = $1 AND person_id = $2 AND version = $3",
        tenant,
        person,
        version,
    )


@_read
async def session_consolidated(pool: asyncpg.Pool, tenant: str, person: str, session: str) -> bool:
    """Read-your-writes: the session's finished digest is in and the person is not dirty."""
    return bool(
        await pool.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {S}.session_digests WHERE tenant_id = $1 AND person_id = $2 "
            f"AND session_id = $3 AND status = 'finished') AND NOT EXISTS (SELECT 1 FROM {S}.persons "
            "WHERE tenant_id = $1 AND person_id = $2 AND dirty_since IS NOT NULL)",
            tenant,
            person,
            session,
        )
    )


@_read
async def versions(pool: asyncpg.Pool, tenant: str, person: str, limit: int) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"SELECT version, content_hash, reason, source_session_id, created_at, announced_at, summary "
            f"FROM {S}.profile_versions WHERE tenant_id = $1 AND person_id = $2 "
            "ORDER BY version DESC LIMIT $3",
            tenant,
            person,
            limit + 1,
        )
    )


@_read
async def evidence(
    pool: asyncpg.Pool,
    tenant: str,
    person: str,
    kind: str,
    code: str,
    after: tuple[datetime, str, int, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Every observation behind (kind, code) in the person's sessions, newest first; ``after``
    is the last row of the previous page (recorded_at, session, seq, source)."""
    cursor = after or (datetime.max.replace(tzinfo=UTC), "", 0, "")
    return list(
        await pool.fetch(
            f"SELECT o.session_id, o.turn_id, o.seq, o.event_id, o.source, o.intent, o.recorded_at, "
            f"o.occurred_at, o.value FROM {S}.observations o JOIN {S}.session_state s "
            "ON s.tenant_id = o.tenant_id AND s.session_id = o.session_id "
            "WHERE o.tenant_id = $1 AND s.person_id = $2 AND o.kind = $3 AND o.code = $4 "
            "AND ($6::boolean OR (o.recorded_at, o.session_id, o.seq, o.source) < ($7, $8, $9, $10)) "
            "ORDER BY o.recorded_at DESC, o.session_id DESC, o.seq DESC, o.source DESC LIMIT $5",
            tenant,
            person,
            kind,
            code,
            limit,
            after is None,
            *cursor,
        )
    )


@_read
async def restores_of(pool: asyncpg.Pool, tenant: str, sessions: list[str]) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"SELECT session_id, seq, value FROM {S}.observations WHERE tenant_id = $1 "
            "AND session_id = ANY($2::text[]) AND kind = 'restore'",
            tenant,
            sessions,
        )
    )


@_read
async def digests(pool: asyncpg.Pool, tenant: str, person: str, limit: int) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"SELECT session_id, status, through_seq, finished_at, digest_hash, sealed_at, "
            f"digest->>'summary' AS summary, (digest->>'turns')::int AS turns FROM {S}.session_digests "
            "WHERE tenant_id = $1 AND person_id = $2 ORDER BY finished_at DESC, session_id DESC LIMIT $3",
            tenant,
            person,
            limit,
        )
    )


@_read
async def digest(pool: asyncpg.Pool, tenant: str, person: str, session: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT digest, digest_hash, sealed_at FROM {S}.session_digests "
        "WHERE tenant_id = $1 AND person_id = $2 AND session_id = $3",
        tenant,
        person,
        session,
    )
    if row is None:
        return None
    return {**row["digest"], "digest_hash": row["digest_hash"], "sealed_at": row["sealed_at"].isoformat()}


@_read
async def suppressions(pool: asyncpg.Pool, tenant: str, person: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            f"SELECT * FROM {S}.suppressions WHERE tenant_id = $1 AND person_id = $2 ORDER BY created_at",
            tenant,
            person,
        )
    )


@_read
async def current_version(pool: asyncpg.Pool, tenant: str, person: str) -> int:
    version = await pool.fetchval(
        f"SELECT version FROM {S}.persons WHERE tenant_id = $1 AND person_id = $2", tenant, person
    )
    return int(version or 0)
