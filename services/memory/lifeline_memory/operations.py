"""On-demand work behind the API: consolidate (catch-up, provisional seal, rebuild), suppress.

Every path ends in the same pure seal and the same locked consolidation the bus path
uses, so a request can never give a different answer than the projection would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from uuid import UUID, uuid4

import asyncpg

from lifeline_clients import IngestClient, PeerUnavailableError
from lifeline_events import Event
from lifeline_memory import store
from lifeline_memory.announcer import Announcer
from lifeline_memory.consolidation import absorb
from lifeline_memory.consolidator import Consolidator, Outcome
from lifeline_memory.errors import SessionNotFoundError, SessionOfAnotherPersonError
from lifeline_memory.handlers import is_forgotten
from lifeline_memory.policy import Policy
from lifeline_memory.preview import preview
from lifeline_memory.scalars import SessionScalars
from lifeline_memory.sealing import reseal
from lifeline_projection import SessionKey
from lifeline_store import wrap_errors

ApplyEvents = Callable[[Mapping[SessionKey, Sequence[Event]]], Awaitable[None]]
Checkpoint = Callable[[SessionKey], Awaitable[int]]


class Operations:
    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: Policy,
        consolidator: Consolidator,
        announcer: Announcer,
        ingest: IngestClient | None,
        apply_events: ApplyEvents,
        checkpoint: Checkpoint,
    ) -> None:
        self._pool = pool
        self._policy = policy
        self._consolidator = consolidator
        self._announcer = announcer
        self._ingest = ingest
        self._apply_events = apply_events
        self._checkpoint = checkpoint

    def _need_ingest(self) -> IngestClient:
        if self._ingest is None:
            raise PeerUnavailableError("no service key: ingest's log cannot be read")
        return self._ingest

    async def consolidate(
        self,
        tenant: str,
        person: str,
        *,
        session_id: str | None,
        rebuild: bool,
        dry_run: bool,
        traceparent: str | None,
    ) -> Outcome:
        reason = "rebuild" if rebuild else "on_demand"
        if dry_run:
            return await preview(
                self._pool,
                self._policy,
                self._read_log,
                tenant,
                person,
                session_id=session_id,
                rebuild=rebuild,
            )
        if rebuild:
            for session in await self._person_sessions(tenant, person, session_id):
                await self._rebuild_session(tenant, person, session)
        elif session_id is not None:
            await self._catch_up(tenant, person, session_id)
        outcome = await self._consolidator.consolidate(
            tenant, person, reason=reason, source_session=session_id, traceparent=traceparent, dry_run=dry_run
        )
        if outcome.changed and not dry_run:
            await self._announcer.announce(tenant=tenant, person=person)
        return outcome

    async def _person_sessions(self, tenant: str, person: str, session_id: str | None) -> list[str]:
        async with self._pool.acquire() as conn:
            sessions = await store.sessions_of_person(conn, tenant, person)
        if session_id is not None and session_id not in sessions:
            sessions.append(session_id)
        return sorted(sessions)

    async def _catch_up(self, tenant: str, person: str, session: str) -> None:
        """Apply what ingest's log has beyond the checkpoint, then seal a provisional digest
        if the session has not finished (the finish later replaces it: counted once)."""
        key = SessionKey(tenant, session)
        events = await self._need_ingest().events(tenant, session, after_seq=await self._checkpoint(key))
        if events:
            await self._apply_events({key: events})
        with wrap_errors("seal provisional digest"):
            async with self._pool.acquire() as conn, conn.transaction():
                scalars = await store.load_scalars_one(conn, tenant, session)
                self._check_owner(session, person, scalars)
                assert scalars is not None
                if scalars.finished is None:
                    await reseal(conn, tenant, session, scalars, self._policy)

    @staticmethod
    def _check_owner(session: str, person: str, scalars: SessionScalars | None) -> None:
        if scalars is None:
            raise SessionNotFoundError(f"no session {session!r} for this tenant")
        if scalars.person_id != person:
            raise SessionOfAnotherPersonError(session, scalars.person_id)

    async def _read_log(self, tenant: str, session: str, page: int = 1000) -> list[Event]:
        """The whole log of a session, its pages fetched concurrently (seqs are gapless, so the
        ranges are known from the last seq): ingest serves one page while we decode another."""
        ingest = self._need_ingest()
        last = await ingest.last_seq(tenant, session)
        if not last:
            return []
        pages = await asyncio.gather(
            *(
                ingest.events(tenant, session, after_seq=start, until_seq=min(last, start + page))
                for start in range(0, last, page)
            )
        )
        return [e for p in pages for e in p]

    async def _rebuild_session(self, tenant: str, person: str, session: str) -> None:
        """Recompute the session's scalars, observations and digest from ingest's log alone."""
        events = await self._read_log(tenant, session)
        if not events:
            return
        named = next((e.person_id for e in reversed(events) if e.person_id), None)
        if named != person:
            raise SessionOfAnotherPersonError(session, named)
        with wrap_errors("rebuild session"):
            async with self._pool.acquire() as conn, conn.transaction():
                tombs = await store.tombstones_for(conn, tenant, [person], [session])
                # exactly what the projection keeps: a rebuild must not resurrect anything forgotten
                kept = [e for e in events if not is_forgotten(tombs, session, e.person_id or person, e)]
                if not kept:
                    return
                scalars, observations = absorb(SessionScalars(), kept, self._policy.rules)
                if await store.observation_keys(conn, tenant, session) != {o.key for o in observations}:
                    await conn.execute(
                        "DELETE FROM memory.observations WHERE tenant_id = $1 AND session_id = $2",
                        tenant,
                        session,
                    )
                    await store.insert_observations(conn, tenant, [(session, o) for o in observations])
                await store.save_scalars(conn, tenant, [(session, scalars)])
                await conn.execute(
                    "INSERT INTO memory.checkpoints (tenant_id, session_id, last_seq) VALUES ($1, $2, $3) "
                    "ON CONFLICT (tenant_id, session_id) DO UPDATE SET "
                    "last_seq = GREATEST(checkpoints.last_seq, "
                    "EXCLUDED.last_seq)",
                    tenant,
                    session,
                    scalars.seq,
                )
                await reseal(conn, tenant, session, scalars, self._policy, observations)

    async def suppress(
        self,
        tenant: str,
        person: str,
        *,
        kind: str,
        code: str,
        session_id: str | None,
        turn_id: int | None,
        reason: str,
        actor: str | None,
    ) -> tuple[UUID, Outcome]:
        sid = uuid4()
        with wrap_errors("suppress evidence"):
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO memory.suppressions (tenant_id, person_id, id, kind, code, session_id, "
                    "turn_id, "
                    "reason, actor) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                    tenant,
                    person,
                    sid,
                    kind,
                    code,
                    session_id,
                    turn_id,
                    reason,
                    actor,
                )
                outcome = await self._reseal_person(conn, tenant, person, session_id)
        await self._announcer.announce(tenant=tenant, person=person)
        return sid, outcome

    async def unsuppress(self, tenant: str, person: str, suppression: UUID) -> Outcome | None:
        with wrap_errors("remove suppression"):
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "DELETE FROM memory.suppressions WHERE tenant_id = $1 AND person_id = $2 "
                    "AND id = $3 RETURNING session_id",
                    tenant,
                    person,
                    suppression,
                )
                if row is None:
                    return None
                outcome = await self._reseal_person(conn, tenant, person, row["session_id"])
        await self._announcer.announce(tenant=tenant, person=person)
        return outcome

    async def _reseal_person(
        self, conn: asyncpg.Connection, tenant: str, person: str, session: str | None
    ) -> Outcome:
        sessions = [session] if session else await store.sessions_of_person(conn, tenant, person)
        for s in sessions:
            scalars = await store.load_scalars_one(conn, tenant, s)
            if (
                scalars is not None
                and scalars.person_id == person
                and await conn.fetchval(
                    "SELECT 1 FROM memory.session_digests WHERE tenant_id = $1 AND session_id = $2", tenant, s
                )
            ):
                await reseal(conn, tenant, s, scalars, self._policy)
        return await self._consolidator.consolidate_in(conn, tenant, person, reason="suppression")
