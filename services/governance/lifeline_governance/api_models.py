"""HTTP routes of the model registry: list, read, register, transition, history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifeline_governance import commands, queries
from lifeline_governance.api_errors import key_fingerprint
from lifeline_governance.deps import Deps
from lifeline_governance.errors import InvalidRequestError, NotFoundError
from lifeline_governance.registration import apply_registration
from lifeline_servicekit import Principal, TenantParam, require_scope, tenant_for

router = APIRouter(tags=["models"])
ModelId = Annotated[str, Path(min_length=1, max_length=128)]
StateName = Literal["SHADOW", "CANDIDATE", "PRIMARY", "ACTIVE", "QUARANTINED"]
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]


class PlacementSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    pinned: bool | None = None
    shadow_rate: float | None = Field(None, ge=0, le=1)
    canary_traffic: float | None = Field(None, ge=0, le=1)


class ModelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)
    intents: dict[Annotated[str, Field(min_length=1, max_length=128)], PlacementSpec] = Field(
        default_factory=dict
    )


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intent: str = Field(min_length=1, max_length=128)
    to_state: StateName
    reason: str = Field(min_length=1, max_length=500)
    expected_state: StateName | None = None
    respect_guards: bool = False
    actor: str | None = Field(None, max_length=200)


async def _model(deps: Deps, tenant: str, model_id: str) -> dict[str, Any]:
    found = await queries.models(deps.pool, tenant, model_id=model_id, sustain=deps.rules.sustain_evaluations)
    if not found:
        raise NotFoundError(f"no model '{model_id}' for this tenant")
    return found[0]


@router.get("/v1/models")
async def list_models(
    deps: Deps,
    who: Reader,
    tenant_id: TenantParam = None,
    intent: str | None = Query(None, max_length=128),
    state: StateName | None = None,
) -> dict[str, Any]:
    tenant = tenant_for(who, tenant_id)
    return {
        "models": await queries.models(
            deps.pool, tenant, intent=intent, state=state, sustain=deps.rules.sustain_evaluations
        )
    }


@router.get("/v1/models/{model_id}")
async def get_model(
    model_id: ModelId, deps: Deps, who: Reader, response: Response, tenant_id: TenantParam = None
) -> dict[str, Any]:
    model = await _model(deps, tenant_for(who, tenant_id), model_id)
    response.headers["ETag"] = f'"{model["version"]}"'
    return model


def _version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    try:
        return int(if_match.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidRequestError(
            f"If-Match must be an ETag this service gave out, not {if_match!r}"
        ) from exc


@router.put("/v1/models/{model_id}")
async def put_model(
    model_id: ModelId,
    body: ModelBody,
    request: Request,
    deps: Deps,
    who: Admin,
    response: Response,
    if_match: str | None = Header(None),
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    """Register or update a model and its placements (new ones start in SHADOW)."""
    tenant = tenant_for(who, tenant_id)
    version = await apply_registration(
        deps.pool,
        deps.rules,
        tenant,
        model_id,
        body.model_dump(exclude_none=True),
        _version(if_match),
        key_fingerprint(request),
    )
    await deps.announcer.announce()
    await deps.routing.reload(tenant)
    response.headers["ETag"] = f'"{version}"'
    return await _model(deps, tenant, model_id)


@router.post("/v1/models/{model_id}/transition")
async def transition(
    model_id: ModelId,
    body: TransitionBody,
    request: Request,
    deps: Deps,
    who: Admin,
    idempotency_key: str | None = Header(None, max_length=200),
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    """A manual transition (audited as an override); promoting to PRIMARY is an atomic swap."""
    tenant = tenant_for(who, tenant_id)
    if idempotency_key:
        earlier = await queries.decision_rows(deps.pool, tenant, idempotency_key=idempotency_key)
        if earlier:
            return _answer(deps, tenant, body.intent, model_id, earlier, duplicate=True)
    req = commands.TransitionRequest(
        body.intent,
        body.to_state,
        body.reason,
        body.actor or key_fingerprint(request),
        body.expected_state,
        body.respect_guards,
        idempotency_key,
    )
    written = await commands.transition(deps.pool, deps.rules, tenant, model_id, req, deps.weights)
    await deps.announcer.announce()
    await deps.routing.reload(tenant)
    rows = await queries.decision_rows(deps.pool, tenant, after_seq=written[0].seq - 1, limit=len(written))
    return _answer(deps, tenant, body.intent, model_id, rows, duplicate=False)


def _answer(
    deps: Deps, tenant: str, intent: str, model_id: str, rows: list[dict[str, Any]], duplicate: bool
) -> dict[str, Any]:
    main = next((r for r in rows if r["model_id"] == model_id), rows[0])
    others = [
        {
            "model_id": r["model_id"],
            "from_state": r["from_state"],
            "to_state": r["to_state"],
            "rule": r["rule"],
        }
        for r in rows
        if r is not main
    ]
    decision = {**main, "override": True, "displaced": others}
    return {
        "decision": decision,
        "routing": deps.routing.answer(tenant, intent, None),
        "duplicate": duplicate,
    }


@router.get("/v1/models/{model_id}/history")
async def history(
    model_id: ModelId,
    deps: Deps,
    who: Reader,
    tenant_id: TenantParam = None,
    intent: str | None = Query(None, max_length=128),
) -> dict[str, Any]:
    tenant = tenant_for(who, tenant_id)
    await _model(deps, tenant, model_id)
    return {"model_id": model_id, "intervals": await queries.history(deps.pool, tenant, model_id, intent)}
