"""Forgetting routes (admin): a whole person, or one session's contribution."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from lifeline_memory.api import PersonId, _json
from lifeline_memory.deps import Deps
from lifeline_memory.errors import PersonForgottenError
from lifeline_servicekit import Principal, SessionId, TenantParam, require_scope, tenant_for
from lifeline_servicekit.problems import problem
from lifeline_telemetry import current_traceparent

router = APIRouter(prefix="/v1/persons", tags=["memory: forgetting"])
Admin = Annotated[Principal, Depends(require_scope("admin"))]
Reason = Annotated[str | None, Query(max_length=500)]


@router.delete("/{person_id}", summary="Forget a person (memory's derived data only)")
async def forget_person(
    person_id: PersonId,
    deps: Deps,
    principal: Admin,
    tenant_id: TenantParam = None,
    block_future: bool = False,
    reason: Reason = None,
) -> Response:
    """Deletes observations, digests, versions and the profile; leaves a tombstone so a redelivered
    event cannot bring it back; `block_future=true` also ignores the person's later sessions.
    Ingest's log, snapshots and traces are NOT erased (the answer says so)."""
    tenant = tenant_for(principal, tenant_id)
    answer = await deps.forgetting.forget_person(
        tenant,
        person_id,
        block_future=block_future,
        reason=reason,
        actor=principal.tenant,
        traceparent=current_traceparent(),
    )
    deps.bias_cache.drop(tenant, person_id)
    return _json(answer)


@router.delete("/{person_id}/sessions/{session_id}", summary="Forget one session's contribution")
async def forget_session(
    person_id: PersonId,
    session_id: SessionId,
    deps: Deps,
    principal: Admin,
    tenant_id: TenantParam = None,
    reason: Reason = None,
) -> Response:
    """The profile is recomputed as if the session never existed."""
    tenant = tenant_for(principal, tenant_id)
    answer = await deps.forgetting.forget_session(
        tenant,
        person_id,
        session_id,
        reason=reason,
        actor=principal.tenant,
        traceparent=current_traceparent(),
    )
    deps.bias_cache.drop(tenant, person_id)
    return _json(answer)


async def forgotten_problem(_: Request, exc: PersonForgottenError) -> JSONResponse:
    """410 Gone with `forgotten_at`: memory knew this person and erased what it derived."""
    return problem(410, exc.title, str(exc), forgotten_at=exc.forgotten_at.isoformat())
