"""Who may act for which tenant, enforced once for every route of every service.

Roles (README, "Who can do what"):

- `read` / `ingest`: the key's own tenant, reading / appending;
- `admin`: every action, inside the key's own tenant only;
- `operator`: the platform scope (service keys and the platform operator): every action
  in any tenant (`?tenant_id=`) and platform-wide ones (retention cleanup of every
  tenant, outbox reports across tenants).

`TenancyMiddleware` refuses `?tenant_id=<another tenant>` from a key without `operator`
before routing, so no route can forget it and the 403 precedes any validation of the
body. Routes still resolve their tenant with `tenant_for` (which applies the same rule
to tenants named in a body).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from lifeline_servicekit.auth import principal_for, token_from_headers
from lifeline_servicekit.problems import problem

OPERATOR_SCOPE = "operator"
"""The platform scope: crossing tenants and platform-wide actions."""


def may_cross_tenants(scopes: frozenset[str]) -> bool:
    return OPERATOR_SCOPE in scopes


class TenancyMiddleware:
    """403 for a key naming another tenant in `?tenant_id=` without the operator scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or b"tenant_id=" not in scope.get("query_string", b""):
            await self.app(scope, receive, send)
            return
        named = {v for k, v in parse_qsl(scope["query_string"].decode("latin-1")) if k == "tenant_id" and v}
        token = token_from_headers({k.decode("latin-1").lower(): v.decode("latin-1")
                                    for k, v in scope.get("headers", [])})
        principal = principal_for(scope["app"].state.settings.api_keys, token) if token else None
        if principal is not None and not may_cross_tenants(principal.scopes) and named - {principal.tenant}:
            answer = problem(403, "Forbidden", f"only an {OPERATOR_SCOPE} key may name another tenant; "
                             f"this key acts in tenant {principal.tenant!r} only")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
