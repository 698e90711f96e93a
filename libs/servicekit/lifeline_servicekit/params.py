"""The HTTP edge's shared parameters and rules, written once for every service.

A service's routes take `SessionId` (the session-id path segment and its pattern) and
`TenantParam` (`?tenant_id=`), resolve the tenant they act in with `tenant_for`, answer
an unknown session with `session_not_found`, and act as the caller on a peer service with
`forwarded_authorization`. Keeping these here is what makes "who may read what" the same
rule in every service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator
from starlette.requests import HTTPConnection

from lifeline_servicekit.auth import Principal
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.tenancy import OPERATOR_SCOPE

MAX_INT64 = 2**63 - 1
"""The bound of every integer a client sends (`le=MAX_INT64` in Query/Field): PostgreSQL's
`bigint` and orjson stop there, so a larger number is a 422 naming the parameter, not a 500."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def sane_instant(value: datetime) -> datetime:
    """`value` in UTC (naive means UTC) if it lies in [1900, 9000), else a ValueError.

    A valid but extreme instant (`0001-01-01T00:00:00+14:00`) overflows once shifted to
    UTC, in Python or in asyncpg; bounded here it is a 422 naming the field, not a 500.
    """
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"out of range: a time in [{EARLIEST.isoformat()}, {LATEST.isoformat()})")
    return utc


SaneDatetime = Annotated[datetime, AfterValidator(sane_instant)]
"""A body or query time bounded to [1900, 9000) and normalised to UTC (naive means UTC)."""

ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
"""Session ids (and the person ids trace-store scopes by): safe in URLs, keys and logs."""

CROSS_TENANT_SCOPE = OPERATOR_SCOPE
"""The scope that may name another tenant: the service key's (other services read for
any tenant through it) and the platform operator's; a tenant's `admin` may not."""

SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="the session's id")]
TenantParam = Annotated[str | None, Query(description="operator keys only: act for this tenant")]


def tenant_for(principal: Principal, tenant_param: str | None) -> str:
    """The tenant a request acts in: the key's own, unless a cross-tenant key names another.

    Naming one's own tenant is always allowed; naming another without the cross-tenant
    scope is a 403 (never a silent fallback to the key's tenant).
    """
    if tenant_param and tenant_param != principal.tenant:
        if CROSS_TENANT_SCOPE not in principal.scopes:
            raise ProblemError(403, "Forbidden", f"only an {CROSS_TENANT_SCOPE} key may name another tenant; "
                               f"this key acts in tenant {principal.tenant!r} only")
        return tenant_param
    return principal.tenant


def session_not_found(session_id: str, detail: str | None = None) -> ProblemError:
    """The one 404 for a session the tenant does not have (raise it)."""
    return ProblemError(404, "Session not found", detail or f"no session {session_id!r} for this tenant")


def forwarded_authorization(connection: HTTPConnection) -> str:
    """The caller's credentials as an `Authorization` header value, to act as the caller on a
    peer service (which takes the tenant from the key, so the caller cannot widen it)."""
    header = connection.headers.get("authorization")
    if header:
        return header
    return f"Bearer {connection.headers.get('x-api-key', '')}"
