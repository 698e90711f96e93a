"""Audit log of admin actions, the same in every service (seeds 001, 002).

Every state-changing call (POST, PUT, PATCH, DELETE) by a key holding `admin` or
`operator` to an admin action — repair, reconcile, cleanup, delete, restore, import,
forget, transitions, suppressions, consolidations, lifecycle runs — is recorded once its
answer is decided and before the answer's last byte is sent (so the audit log a client
reads right after its action holds it): when, which service, the tenant it acted for,
the key's fingerprint and scopes, method, path and query, the status and the duration.
Rows live in the service's own schema (`<schema>.admin_audit`, created at start by
`open_database`) and are read per tenant with `GET /v1/admin/audit` (admin: its tenant;
operator: any, `?tenant_id=`).
An operator acting for another tenant names it in the query (`?tenant_id=`) or in the JSON
body (`"tenant_id"`, e.g. a WAL repair): the row is that tenant's, so its admins see it.
The body is read as the action reads it (the first 64 KiB are kept; a larger or non-JSON
body names no tenant). A failure to record is logged and never fails the action it records.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl

import asyncpg
import orjson
import structlog
from fastapi import APIRouter, Depends, Query, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lifeline_servicekit.auth import Principal, principal_for, require_scope, token_from_headers
from lifeline_servicekit.params import TenantParam, tenant_for
from lifeline_servicekit.persons import require_unscoped

log = structlog.get_logger("lifeline.audit")
_ACTIONS = re.compile(r"/admin/|/restore/|/import|/reconcile|/cleanup|/transition|/suppressions"
                      r"|/consolidate|/snapshots|/models/|/intents/")
_SCHEMAS: dict[int, str] = {}
_BODY_KEPT = 64 * 1024


def audit_table_sql(schema: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {schema}.admin_audit (id bigserial PRIMARY KEY, "
            "at timestamptz NOT NULL DEFAULT now(), service text NOT NULL, tenant_id text NOT NULL, "
            "key_fingerprint text NOT NULL, scopes text[] NOT NULL, method text NOT NULL, "
            "path text NOT NULL, "
            "query text NOT NULL, status int NOT NULL, duration_ms double precision NOT NULL); "
            f"CREATE INDEX IF NOT EXISTS admin_audit_tenant ON {schema}.admin_audit (tenant_id, id)")


async def register(pool: asyncpg.Pool, schema: str) -> None:
    """Create the service's audit table and remember which schema `pool` writes it to
    (under the schema's migration lock, so replicas starting together do not collide)."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"audit:{schema}")
            await conn.execute(audit_table_sql(schema))
    _SCHEMAS[id(pool)] = schema


def _tenant_in_body(body: bytes) -> str | None:
    """The `tenant_id` a JSON object body names, if any (anything else names none)."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    named = doc.get("tenant_id") if isinstance(doc, dict) else None
    return named if isinstance(named, str) and named else None


def is_admin_action(method: str, path: str) -> bool:
    if method not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    return method == "DELETE" or bool(_ACTIONS.search(path))


def _pool(app: Any) -> tuple[asyncpg.Pool, str] | None:
    pool = getattr(getattr(app.state, "deps", None), "pool", None)
    schema = _SCHEMAS.get(id(pool)) if pool is not None else None
    return (pool, schema) if pool is not None and schema else None


class AuditMiddleware:
    """Records admin actions as they are answered (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app, self._service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_admin_action(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        token = token_from_headers({k.decode("latin-1").lower(): v.decode("latin-1")
                                    for k, v in scope.get("headers", [])})
        principal = principal_for(scope["app"].state.settings.api_keys, token) if token else None
        if principal is None or not principal.scopes & {"admin", "operator"}:
            await self.app(scope, receive, send)
            return
        status = [500]
        body = bytearray()

        async def capturing() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < _BODY_KEPT:
                body.extend(message.get("body", b"")[: _BODY_KEPT - len(body)])
            return message

        recorded = [False]

        async def record() -> None:
            if not recorded[0]:
                recorded[0] = True
                await self._record(scope, principal, str(token), status[0],
                                   time.perf_counter() - started, bytes(body))

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # before the answer's last byte: a client that reads the audit log right after
                # its action finds the action there
                await record()
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, capturing, recording)
        finally:
            await record()  # an action that failed before it answered is recorded too

    async def _record(self, scope: Scope, principal: Principal, token: str, status: int,
                      seconds: float, body: bytes = b"") -> None:
        target = _pool(scope["app"])
        if target is None:
            return
        query = scope.get("query_string", b"").decode("latin-1")
        named = dict(parse_qsl(query)).get("tenant_id") or _tenant_in_body(body)
        tenant = named if named and "operator" in principal.scopes else principal.tenant
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
        try:
            await target[0].execute(
                f"INSERT INTO {target[1]}.admin_audit (service, tenant_id, key_fingerprint, scopes, method, "
                "path, query, status, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                self._service, tenant, fingerprint, sorted(principal.scopes), scope["method"], scope["path"],
                query, status, seconds * 1000)
        except Exception as exc:  # never fail the action over its audit row
            log.error("audit.not_recorded", error=repr(exc), path=scope["path"], status=status)


router = APIRouter(tags=["audit"])


@router.get("/v1/admin/audit")
async def read_audit(request: Request, principal: Annotated[Principal, Depends(require_scope("admin"))],
                     tenant_id: TenantParam = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """This tenant's admin actions on this service, newest first (not for person-scoped keys:
    the paths name every person's sessions)."""
    require_unscoped(principal, "the admin audit log")
    tenant = tenant_for(principal, tenant_id)
    target = _pool(request.app)
    if target is None:
        return {"tenant_id": tenant, "entries": []}
    rows = await target[0].fetch(
        f"SELECT at, service, key_fingerprint, scopes, method, path, query, status, duration_ms "
        f"FROM {target[1]}.admin_audit WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2", tenant, limit)
    return {"tenant_id": tenant, "entries": [{**dict(r), "at": r["at"].isoformat()} for r in rows]}
