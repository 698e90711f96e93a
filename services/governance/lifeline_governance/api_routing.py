"""HTTP routes that answer "which model?": now (from memory), at a past time, the whole
table; and the intents' weights and freezes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifeline_governance import commands, queries
from lifeline_governance.api_errors import key_fingerprint
from lifeline_governance.deps import Deps
from lifeline_governance.errors import InvalidRequestError, NotFoundError
from lifeline_governance.metrics import ROUTING_SECONDS
from lifeline_servicekit import (
    MAX_INT64,
    Principal,
    ProblemError,
    TenantParam,
    require_scope,
    sane_instant,
    tenant_for,
)

router = APIRouter(tags=["routing"])
Intent = Annotated[str, Path(min_length=1, max_length=128)]
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]


def _at(value: str) -> datetime:
    try:
        at = sane_instant(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidRequestError(
            f"at: {value!r} is not an ISO 8601 time in range ({exc})", field="at"
        ) from exc
    if at > datetime.now(UTC):
        raise InvalidRequestError("at: the future has no PRIMARY yet", field="at")
    return at


@router.get("/v1/routing/{intent:path}")
async def route(
    intent: Intent,
    deps: Deps,
    who: Reader,
    tenant_id: TenantParam = None,
    sample_key: str | None = Query(None, max_length=256),
    at: str | None = None,
    min_seq: int | None = Query(None, ge=0, le=MAX_INT64),
    if_none_match: str | None = Header(None),
) -> Response:
    """The model to use for `intent` (match order in the README); `?at=` for the past."""
    started = time.perf_counter()
    tenant = tenant_for(who, tenant_id)
    if at is not None:
        found = await queries.primary_at(deps.pool, tenant, intent, _at(at))
        if found is None:
            raise NotFoundError(f"no PRIMARY for intent '{intent}' at {at}")
        return Response(_dumps(found), media_type="application/json")
    if min_seq is not None:
        wait_s = deps.settings.governance_routing_refresh_s * 2
        if not await deps.routing.wait_for(tenant, min_seq, timeout=wait_s):
            raise ProblemError(
                504,
                "Timeout",
                f"the routing table did not reach min_seq {min_seq} within {wait_s:g}s",
                min_seq=min_seq,
            )
    if sample_key is not None:
        body = deps.routing.answer(tenant, intent, sample_key)
        if body is None:
            raise NotFoundError(f"no route for intent '{intent}'")
        ROUTING_SECONDS.observe(time.perf_counter() - started)
        return Response(_dumps(body), media_type="application/json")
    entry = deps.routing.entry(tenant, intent)
    if entry is None:
        raise NotFoundError(f"no route for intent '{intent}'")
    ROUTING_SECONDS.observe(time.perf_counter() - started)
    if if_none_match == entry.etag:
        return Response(status_code=304, headers={"ETag": entry.etag})
    return Response(entry.body, media_type="application/json", headers={"ETag": entry.etag})


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body)


@router.get("/v1/routing")
async def table(
    deps: Deps, who: Reader, tenant_id: TenantParam = None, since_seq: int = Query(0, ge=0, le=MAX_INT64)
) -> dict[str, Any]:
    """The whole table (routes of every intent), or nothing when `since_seq` is current."""
    tenant = tenant_for(who, tenant_id)
    seq = deps.routing.seqs.get(tenant, 0)
    if since_seq and since_seq >= seq:
        return {"tenant_id": tenant, "as_of_seq": seq, "changed": False, "routes": {}}
    intents = sorted(deps.routing.tables.get(tenant, {}))
    routes = {i: deps.routing.answer(tenant, i, None) for i in intents}
    return {
        "tenant_id": tenant,
        "as_of_seq": seq,
        "changed": True,
        "routes": {i: r for i, r in routes.items() if r is not None},
    }


class IntentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frozen: bool | None = None
    reason: str | None = Field(None, max_length=500)
    weight: float | None = Field(None, gt=0, le=10)


@router.put("/v1/intents/{intent:path}")
async def put_intent(
    intent: Intent, body: IntentBody, request: Request, deps: Deps, who: Admin, tenant_id: TenantParam = None
) -> dict[str, Any]:
    """Freeze an intent (evaluations continue, transitions stop) or set its weight."""
    tenant = tenant_for(who, tenant_id)
    await commands.configure_intent(
        deps.pool,
        deps.rules,
        tenant,
        intent,
        frozen=body.frozen,
        reason=body.reason,
        weight=body.weight,
        actor=key_fingerprint(request),
    )
    await deps.routing.reload(tenant)
    return next(i for i in await _intents(deps, tenant) if i["intent"] == intent)


async def _intents(deps: Deps, tenant: str) -> list[dict[str, Any]]:
    rows = await deps.pool.fetch(
        "SELECT k.intent, i.weight, coalesce(i.frozen, false) AS frozen, i.frozen_reason, "
        "i.last_primary_change_at, (SELECT model_id FROM governance.placements p WHERE p.tenant_id = $1 "
        "AND p.intent = k.intent AND p.state = 'PRIMARY') AS primary_model_id FROM "
        "(SELECT intent FROM governance.intents WHERE tenant_id = $1 UNION "
        " SELECT intent FROM governance.placements WHERE tenant_id = $1) k "
        "LEFT JOIN governance.intents i ON i.tenant_id = $1 AND i.intent = k.intent ORDER BY k.intent",
        tenant,
    )
    return [
        {
            "intent": r["intent"],
            "weight": r["weight"] if r["weight"] is not None else deps.weights.get(r["intent"], 1.0),
            "frozen": r["frozen"],
            "frozen_reason": r["frozen_reason"],
            "primary_model_id": r["primary_model_id"],
            "last_primary_change_at": r["last_primary_change_at"].isoformat()
            if r["last_primary_change_at"]
            else None,
        }
        for r in rows
    ]


@router.get("/v1/intents")
async def list_intents(deps: Deps, who: Reader, tenant_id: TenantParam = None) -> dict[str, Any]:
    return {"intents": await _intents(deps, tenant_for(who, tenant_id))}
