"""memory's main routes: the profile, the bias, on-demand consolidation.

Profiles are answered as stored bytes (keys sorted, floats already rounded) plus the
version; the bias is precomputed at consolidation and read by primary key, with a
1 s in-process cache, because replay calls it with a 0.3 s timeout on every cold
recovery and context request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifeline_memory import queries
from lifeline_memory.bias import order_for_intent
from lifeline_memory.canonical import dumps
from lifeline_memory.deps import Deps
from lifeline_memory.errors import VersionNotKeptError
from lifeline_servicekit import (
    ID_PATTERN,
    MAX_INT64,
    Principal,
    ProblemError,
    TenantParam,
    require_scope,
    tenant_for,
)
from lifeline_telemetry import current_traceparent

router = APIRouter(prefix="/v1/persons", tags=["memory"])
PersonId = Annotated[str, Path(pattern=ID_PATTERN, description="the person's id")]
Reader = Annotated[Principal, Depends(require_scope("read"))]
Writer = Annotated[Principal, Depends(require_scope("ingest"))]
JSON = "application/json"


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON)


@router.get("/{person_id}/profile", summary="The person's long-term profile")
async def get_profile(
    person_id: PersonId,
    deps: Deps,
    principal: Reader,
    tenant_id: TenantParam = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT64)] = None,
    after_session: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> Response:
    """404 unknown, 410 forgotten; `?version=` an older kept version; `?after_session=` waits
    until that session is consolidated (read-your-writes), else 504 with the current version
    (404 when the person has no profile at all)."""
    tenant = tenant_for(principal, tenant_id)
    if after_session is not None:
        await _wait_for(deps, tenant, person_id, after_session)
    if version is not None:
        return await _versioned(deps, tenant, person_id, version)
    head = await queries.person_row(deps.pool, tenant, person_id, "content_hash")
    cached = deps.profile_cache.get(tenant, person_id, head["body"], head["version"])
    if cached is not None:
        return Response(cached, media_type=JSON)
    row = await queries.person_row(deps.pool, tenant, person_id, "profile")
    body = dumps(
        {
            **row["body"],
            "version": row["version"],
            "consolidated_at": row["consolidated_at"].isoformat() if row["consolidated_at"] else None,
        }
    )
    deps.profile_cache.put(tenant, person_id, row["body"]["content_hash"], row["version"], body)
    return Response(body, media_type=JSON)


async def _versioned(deps: Deps, tenant: str, person: str, version: int) -> Response:
    await queries.person_row(deps.pool, tenant, person, "content_hash")
    row = await queries.version_profile(deps.pool, tenant, person, version)
    if row is None or row["profile"] is None:
        raise VersionNotKeptError(
            f"version {version} of {person!r} is not kept (the last {deps.settings.memory_versions_keep} are)"
        )
    return _json(
        {**row["profile"], "version": row["version"], "consolidated_at": row["created_at"].isoformat()}
    )


async def _wait_for(deps: Deps, tenant: str, person: str, session: str) -> None:
    """Return once `session` is consolidated into the person's profile; past the wait 504,
    like every service's read-your-writes wait (a person without a profile falls through to 404)."""
    deadline = time.monotonic() + deps.settings.memory_read_wait_ms / 1000
    while not await queries.session_consolidated(deps.pool, tenant, person, session):
        if time.monotonic() >= deadline:
            version = await queries.current_version(deps.pool, tenant, person)
            if version == 0:
                return  # no profile: the read that follows answers 404 (or 410 when forgotten)
            raise ProblemError(504, "Timeout", f"session {session!r} is not consolidated yet after "
                               f"{deps.settings.memory_read_wait_ms} ms (current version {version})",
                               version=version)
        await asyncio.sleep(0.02)


@router.get("/{person_id}/bias", summary="What the next session should focus on")
async def get_bias(
    person_id: PersonId,
    deps: Deps,
    principal: Reader,
    tenant_id: TenantParam = None,
    intent: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """At most 5 items and 2 KiB; `?intent=` puts that intent's (and intent-free) items first."""
    tenant = tenant_for(principal, tenant_id)
    key, now = (tenant, person_id), time.monotonic()
    cached = deps.bias_cache.entries.get(key)
    if cached is not None and cached[0] > now:
        body = cached[1]
    else:
        row = await queries.person_row(deps.pool, tenant, person_id, "bias")
        body = {**row["body"], "version": row["version"]}
        deps.bias_cache.entries[key] = (now + deps.bias_cache.ttl_s, body)
    if intent:
        body = {**body, "focus": order_for_intent(body["focus"], intent)}
    return _json(body)


class ConsolidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(
        None, pattern=ID_PATTERN, description="catch up and seal this session first"
    )
    rebuild: bool = Field(False, description="recompute every session of the person from ingest's log")
    dry_run: bool = Field(False, description="answer the profile it would write; write nothing")


@router.post("/{person_id}/consolidate", summary="Recompute the profile now")
async def consolidate(
    person_id: PersonId,
    deps: Deps,
    principal: Writer,
    request: Request,
    body: ConsolidateRequest | None = None,
    tenant_id: TenantParam = None,
) -> Response:
    """Idempotent: the same request gives the same content hash and `changed: false`."""
    tenant = tenant_for(principal, tenant_id)
    body = body or ConsolidateRequest()
    outcome = await deps.operations.consolidate(
        tenant,
        person_id,
        session_id=body.session_id,
        rebuild=body.rebuild,
        dry_run=body.dry_run,
        traceparent=current_traceparent(),
    )
    deps.bias_cache.drop(tenant, person_id)
    answer = outcome.answer()
    if body.dry_run:
        answer["dry_run"] = True
        answer["profile"] = outcome.profile
    return _json(answer)
