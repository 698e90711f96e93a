"""API keys → tenant and scopes, as a FastAPI dependency."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from fastapi import Request

from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.settings import ApiKeyGrant

SCOPES = ("ingest", "read", "admin", "operator")
"""`admin` implies `ingest` and `read` inside its tenant; `operator` implies every scope in
every tenant (see `lifeline_servicekit.tenancy`)."""


@dataclass(frozen=True)
class Principal:
    """The caller as an API key describes it."""

    tenant: str
    scopes: frozenset[str]
    persons: frozenset[str] | None = None
    """The persons whose data the key sees (None: every person of the tenant; persons.py)."""


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key in `Authorization: Bearer …`, else in `X-API-Key` (header names lower-case)."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return headers.get("x-api-key")


def _bearer(request: Request) -> str | None:
    return token_from_headers(request.headers)


def principal_for(keys: Mapping[str, ApiKeyGrant], token: str) -> Principal | None:
    """The principal an API key maps to (constant-time comparison), or None."""
    for key, grant in keys.items():
        if hmac.compare_digest(key.encode(), token.encode()):
            persons = frozenset(grant.persons) if grant.persons is not None else None
            return Principal(tenant=grant.tenant, scopes=frozenset(grant.scopes), persons=persons)
    return None


def authenticate(request: Request) -> Principal:
    """Resolve the key in `Authorization: Bearer …` (or `X-API-Key`); 401 otherwise."""
    token = _bearer(request)
    if not token:
        raise ProblemError(401, "Unauthorized", "missing API key: send Authorization: Bearer <key>")
    principal = principal_for(request.app.state.settings.api_keys, token)
    if principal is None:
        raise ProblemError(401, "Unauthorized", "unknown API key")
    return principal


def has_scope(principal: Principal, scope: str) -> bool:
    """Whether the key holds `scope`, directly or through `admin` / `operator`."""
    held = principal.scopes
    if scope in held or "operator" in held:
        return True
    return scope != "operator" and "admin" in held


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates and demands `scope`.

    `admin` implies `ingest` and `read`; `operator` implies all of them. Neither lets a key
    leave its tenant except `operator` (tenancy.py)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(request: Request) -> Principal:  # async: no threadpool hop per request
        principal = authenticate(request)
        if not has_scope(principal, scope):
            raise ProblemError(403, "Forbidden", f"this API key lacks the '{scope}' scope")
        return principal

    return dependency
