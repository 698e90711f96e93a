"""Person-scoped API keys in ingest: whose a session is, and which events such a key may append.

servicekit's person guard asks `session_person` on every route with a `{session_id}`, so a
key limited to some persons gets 404 for any other person's session (reading its events,
its WAL, or appending to it). `check_append` covers what the guard cannot see: the
persons the appended events name.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import HTTPConnection

from lifeline_ingest.deps import IngestDeps
from lifeline_servicekit import Principal, ProblemError, deps_from
from lifeline_store import wrap_errors


async def _lookup(pool: asyncpg.Pool, tenant: str, session: str) -> tuple[bool, str | None]:
    """Whether the session exists, and the first person its events named (None: none yet)."""
    with wrap_errors("read session"):
        row = await pool.fetchrow(
            "SELECT person_id FROM ingest.sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session)
    return row is not None, row["person_id"] if row is not None else None


async def session_person(connection: HTTPConnection, tenant: str, session: str) -> tuple[bool, str | None]:
    """The person guard's lookup (lifeline_servicekit.persons.SessionPerson)."""
    return await _lookup(deps_from(connection.app, IngestDeps).pool, tenant, session)


async def check_append(deps: IngestDeps, principal: Principal, session_id: str,
                       persons: list[str | None]) -> None:
    """A person-scoped key appends only its persons' events (403 naming the event), and starts
    a session only by naming one of them (the guard already hid other persons' sessions)."""
    if principal.persons is None:
        return
    for i, person in enumerate(persons):
        if person is not None and person not in principal.persons:
            raise ProblemError(403, "Forbidden", f"events[{i}].person_id: {person!r} is not among this "
                               f"API key's persons", field=f"events[{i}].person_id")
    if not any(persons) and not (await _lookup(deps.pool, principal.tenant, session_id))[0]:
        raise ProblemError(403, "Forbidden", "a person-scoped API key starts a session only by naming "
                           "one of its persons in person_id", field="events[0].person_id")
