"""Person-scoped API keys (seed 004's person isolation), enforced once for every service.

A key whose grant names `persons` (`{"tenant": "t", "scopes": [...], "persons": ["p-7"]}`)
sees only those persons' data, whatever its scopes: `admin` and `operator` keys are
restricted too. Data of another person answers exactly as absent data does (404, never
403), so a scoped key cannot learn what exists.

Enforced in two places:

- `person_guard`, a dependency `create_app` puts on every route (once any configured key
  is person-scoped; without one it would pass every request): a `{person_id}` path
  segment outside the key's persons is a 404; a `{session_id}` segment is resolved with
  the service's own `SessionPerson` lookup and a session of another person is a 404. Routes
  added later are covered without edits.
- where a service resolves data by another id (a trace id, a snapshot's state, a WebSocket,
  a time-travel fold), it calls `require_person` or filters with `sees_person`.

The person of a session is the `person_id` its events carry: ingest keeps the first one
named (`ingest.sessions.person_id`), the fold's state the latest. A session that names no
person is visible to unscoped keys only.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import HTTPConnection

from lifeline_servicekit.auth import Principal, principal_for, token_from_headers
from lifeline_servicekit.params import ID_PATTERN, session_not_found, tenant_for
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.settings import ApiKeyGrant

SessionPerson = Callable[[HTTPConnection, str, str], Awaitable[tuple[bool, str | None]]]
"""`(connection, tenant, session_id) -> (the session exists, its person)`: one per service."""

_ID = re.compile(ID_PATTERN)


def sees_person(principal: Principal, person_id: str | None) -> bool:
    """Whether the key may see data of `person_id` (a person-less item: unscoped keys only)."""
    return principal.persons is None or (person_id is not None and person_id in principal.persons)


def person_not_found(person_id: str) -> ProblemError:
    """The 404 a scoped key gets for a person outside its scope (same for every such person)."""
    return ProblemError(404, "Not found", f"no person {person_id!r} for this API key")


def require_person(principal: Principal, person_id: str | None, session_id: str) -> None:
    """404 (the session's ordinary not-found) unless the key sees the session's person."""
    if not sees_person(principal, person_id):
        raise session_not_found(session_id)


def require_unscoped(principal: Principal, action: str) -> None:
    """403 for a person-scoped key asking for a tenant-wide action (it spans other persons)."""
    if principal.persons is not None:
        raise ProblemError(403, "Forbidden", f"{action} spans every person of the tenant; this API key "
                           f"is limited to persons {sorted(principal.persons)}")


def any_person_scoped(keys: Mapping[str, ApiKeyGrant]) -> bool:
    """Whether any configured key is limited to persons (else `create_app` adds no guard)."""
    return any(grant.persons is not None for grant in keys.values())


def person_guard(session_person: SessionPerson | None) -> Callable[[HTTPConnection], Awaitable[None]]:
    """The dependency `create_app` adds to every route when some key is person-scoped (a
    no-op for unscoped keys; settings are read once, so no key can become scoped later).

    It leaves authentication to the route (no key, an unknown key or a malformed id pass
    through to the route's own 401/422) and WebSockets to their handler."""

    async def guard(connection: HTTPConnection) -> None:
        person = connection.path_params.get("person_id")
        session = connection.path_params.get("session_id")
        if (person is None and session is None) or connection.scope["type"] != "http":
            return
        keys = connection.app.state.settings.api_keys
        token = token_from_headers(connection.headers)
        principal = principal_for(keys, token) if token else None
        if principal is None or principal.persons is None:
            return
        if person is not None and person not in principal.persons:
            raise person_not_found(person)
        if session is None or session_person is None or not _ID.match(session):
            return
        tenant = tenant_for(principal, connection.query_params.get("tenant_id"))
        exists, owner = await session_person(connection, tenant, session)
        if exists:
            require_person(principal, owner, session)

    return guard
