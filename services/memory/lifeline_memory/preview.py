"""``dry_run``: the profile a consolidation would write, computed without writing anything.

Reads the stored digests, recomputes from ingest's log the sessions the request names
(one for ``session_id``, all of the person's for ``rebuild``) with the same tombstone and
suppression rules the projection applies, and folds them with the pure functions. With
``rebuild`` it is the log-is-truth check: ``changed: false`` means the stored profile is
exactly what the log implies.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from lifeline_events import Event
from lifeline_memory import store
from lifeline_memory.consolidation import digest_of_log
from lifeline_memory.consolidator import Outcome
from lifeline_memory.errors import SessionNotFoundError, SessionOfAnotherPersonError
from lifeline_memory.handlers import is_forgotten
from lifeline_memory.policy import Policy
from lifeline_memory.profile import build_profile
from lifeline_store import wrap_errors

ReadLog = Callable[[str, str], Awaitable[list[Event]]]
ALL_SESSIONS = 1_000_000


async def preview(
    pool: asyncpg.Pool,
    policy: Policy,
    read_log: ReadLog,
    tenant: str,
    person: str,
    *,
    session_id: str | None,
    rebuild: bool,
) -> Outcome:
    started = time.perf_counter()
    with wrap_errors("preview consolidation"):
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT version, content_hash FROM memory.persons WHERE tenant_id = $1 AND person_id = $2",
                tenant,
                person,
            )
            digests: dict[str, dict[str, Any]] = {
                d["session_id"]: d for d in await store.person_digests(conn, tenant, person, ALL_SESSIONS)
            }
            suppressions = await store.load_suppressions(conn, tenant, person)
            sessions = await store.sessions_of_person(conn, tenant, person) if rebuild else []
            if session_id is not None and session_id not in sessions:
                sessions.append(session_id)
            tombs = await store.tombstones_for(conn, tenant, [person], sessions)
    for session in sorted(sessions):
        events = await read_log(tenant, session)
        named = next((e.person_id for e in reversed(events) if e.person_id), None)
        if session == session_id and not events and session not in digests:
            raise SessionNotFoundError(f"no session {session!r} for this tenant")
        if events and named != person:
            raise SessionOfAnotherPersonError(session, named)
        kept = [e for e in events if not is_forgotten(tombs, session, e.person_id or person, e)]
        if not kept:
            digests.pop(session, None)
            continue
        digests[session] = digest_of_log(session, kept, policy, suppressions)
    profile = build_profile(tenant, person, digests.values(), policy)
    version = int(row["version"]) if row else 0
    stored_hash = row["content_hash"] if row else None
    new_hash = profile["content_hash"] if profile else None
    changed = new_hash != stored_hash
    return Outcome(
        person,
        version + (1 if changed and profile else 0),
        new_hash,
        changed,
        profile["sessions_count"] if profile else 0,
        session_id,
        (time.perf_counter() - started) * 1000,
        profile,
    )
