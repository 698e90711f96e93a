"""Forgetting: erase memory's derived data for a person or one session, exactly.

The profile is recomputed from what remains (nothing derived survives), a tombstone
stops the projection and rebuilds from bringing it back, and ``profile.forgotten``
goes out through an outbox so downstream stores can purge too. What this does NOT
erase is said in every answer: ingest's log, snapshots and trace-store's traces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import asyncpg

from lifeline_memory import store
from lifeline_memory.announcer import Announcer, forgotten_event
from lifeline_memory.consolidator import Consolidator
from lifeline_memory.errors import SessionNotFoundError
from lifeline_memory.queries import raise_missing
from lifeline_store import wrap_errors

NOT_ERASED = (
    "This erases memory's derived data only (observations, digests, profile versions, the "
    "profile and bias). The person's events in ingest's log, snapshots and trace-store's "
    "traces are kept until Lifeline-wide erasure exists."
)
_NS = uuid5(NAMESPACE_URL, "https://lifeline.dev/memory/profile.forgotten")


class Forgetting:
    def __init__(self, pool: asyncpg.Pool, consolidator: Consolidator, announcer: Announcer) -> None:
        self._pool = pool
        self._consolidator = consolidator
        self._announcer = announcer

    async def forget_person(
        self,
        tenant: str,
        person: str,
        *,
        block_future: bool,
        reason: str | None,
        actor: str | None,
        traceparent: str | None,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        with wrap_errors("forget person"):
            async with self._pool.acquire() as conn, conn.transaction():
                await store.lock_person(conn, tenant, person)
                sessions = await store.sessions_of_person(conn, tenant, person)
                if not sessions and not await conn.fetchval(
                    "SELECT version > 0 FROM memory.persons WHERE tenant_id = $1 AND person_id = $2",
                    tenant,
                    person,
                ):
                    await raise_missing(conn, tenant, person)
                last = await conn.fetchrow(
                    "SELECT session_id, through_seq FROM memory.session_digests WHERE tenant_id = $1 "
                    "AND person_id = $2 ORDER BY finished_at DESC LIMIT 1",
                    tenant,
                    person,
                )
                deleted = await self._erase(conn, tenant, person, sessions)
                deleted["versions"] = _count(
                    await conn.execute(
                        "DELETE FROM memory.profile_versions WHERE tenant_id = $1 AND person_id = $2",
                        tenant,
                        person,
                    )
                )
                await conn.execute(
                    "DELETE FROM memory.suppressions WHERE tenant_id = $1 AND person_id = $2", tenant, person
                )
                await conn.execute(
                    "DELETE FROM memory.persons WHERE tenant_id = $1 AND person_id = $2", tenant, person
                )
                tomb = await self._tombstone(conn, tenant, person, "", now, block_future, reason, actor)
                for session in sessions:  # also per session: their later events may not name the person
                    await self._tombstone(conn, tenant, person, session, now, True, reason, actor)
                session = last["session_id"] if last else (sessions[-1] if sessions else f"memory:{person}")
                await self._outbox(
                    conn,
                    tenant,
                    person,
                    session,
                    last["through_seq"] if last else 1,
                    "person",
                    None,
                    reason,
                    traceparent,
                    now,
                )
        await self._announcer.announce()
        return {"person_id": person, "deleted": deleted, "tombstone": tomb, "not_erased": NOT_ERASED}

    async def forget_session(
        self,
        tenant: str,
        person: str,
        session: str,
        *,
        reason: str | None,
        actor: str | None,
        traceparent: str | None,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        with wrap_errors("forget session"):
            async with self._pool.acquire() as conn, conn.transaction():
                await store.lock_person(conn, tenant, person)
                if session not in await store.sessions_of_person(conn, tenant, person):
                    raise SessionNotFoundError(f"no session {session!r} of person {person!r} in memory")
                through = await conn.fetchval(
                    "SELECT through_seq FROM memory.session_digests WHERE tenant_id = $1 AND session_id = $2",
                    tenant,
                    session,
                )
                deleted = await self._erase(conn, tenant, person, [session])
                tomb = await self._tombstone(conn, tenant, person, session, now, True, reason, actor)
                outcome = await self._consolidator.consolidate_in(conn, tenant, person, reason="forget")
                await self._outbox(
                    conn, tenant, person, session, through or 1, "session", session, reason, traceparent, now
                )
        await self._announcer.announce()
        return {
            "person_id": person,
            "session_id": session,
            "deleted": deleted,
            "tombstone": tomb,
            "profile": outcome.answer(),
            "not_erased": NOT_ERASED,
        }

    @staticmethod
    async def _erase(
        conn: asyncpg.Connection, tenant: str, person: str, sessions: list[str]
    ) -> dict[str, int]:
        observations = _count(
            await conn.execute(
                "DELETE FROM memory.observations WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
                tenant,
                sessions,
            )
        )
        digests = _count(
            await conn.execute(
                "DELETE FROM memory.session_digests WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
                tenant,
                sessions,
            )
        )
        await conn.execute(
            "DELETE FROM memory.session_state WHERE tenant_id = $1 AND session_id = ANY($2::text[])",
            tenant,
            sessions,
        )
        return {"observations": observations, "digests": digests, "sessions": len(sessions)}

    @staticmethod
    async def _tombstone(
        conn: asyncpg.Connection,
        tenant: str,
        person: str,
        session: str,
        at: datetime,
        block_future: bool,
        reason: str | None,
        actor: str | None,
    ) -> dict[str, Any]:
        await conn.execute(
            "INSERT INTO memory.tombstones (tenant_id, person_id, session_id, forgotten_at, block_future, "
            "reason, actor) VALUES ($1,$2,$3,$4,$5,$6,$7) "
            "ON CONFLICT (tenant_id, person_id, session_id) DO UPDATE SET "
            "forgotten_at = EXCLUDED.forgotten_at, block_future = EXCLUDED.block_future, "
            "reason = EXCLUDED.reason, actor = EXCLUDED.actor",
            tenant,
            person,
            session,
            at,
            block_future,
            reason,
            actor,
        )
        return {
            "person_id": person,
            "session_id": session or None,
            "forgotten_at": at.isoformat(),
            "block_future": block_future,
            "reason": reason,
        }

    @staticmethod
    async def _outbox(
        conn: asyncpg.Connection,
        tenant: str,
        person: str,
        session: str,
        seq: int,
        scope: str,
        forgotten_session: str | None,
        reason: str | None,
        traceparent: str | None,
        at: datetime,
    ) -> None:
        event_id = uuid5(_NS, f"{tenant}|{person}|{forgotten_session or ''}|{at.isoformat()}")
        event = forgotten_event(
            event_id=event_id,
            tenant=tenant,
            person=person,
            session=session,
            seq=seq,
            scope=scope,
            forgotten_session=forgotten_session,
            reason=reason,
            traceparent=traceparent,
        )
        await conn.execute(
            "INSERT INTO memory.forget_outbox (event_id, tenant_id, session_id, event) "
            "VALUES ($1, $2, $3, $4)",
            event_id,
            tenant,
            session,
            event.model_dump(mode="json"),
        )


def _count(status: str) -> int:
    try:
        return int(status.split()[-1])
    except (ValueError, IndexError):
        return 0
