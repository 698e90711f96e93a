"""ingest's HTTP routes: append, read the log, the WAL view and its repair."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from lifeline_ingest import branch_store, store
from lifeline_ingest.api_branches import router as branches_router
from lifeline_ingest.committer import EVENTS, AppendRequest
from lifeline_ingest.deps import Deps, IngestDeps
from lifeline_ingest.intake import IntakeError, parse_batch
from lifeline_ingest.persons import check_append
from lifeline_servicekit import (
    MAX_INT64,
    OPERATOR_SCOPE,
    Principal,
    ProblemError,
    SessionId,
    TenantParam,
    deps_from,
    has_scope,
    require_scope,
    session_not_found,
    tenant_for,
)
from lifeline_servicekit.openapi import LOCKED
from lifeline_telemetry import current_traceparent, tracer

router = APIRouter(prefix="/v1", tags=["ingest"])
log = structlog.get_logger("lifeline.ingest")


_APPEND_EXAMPLE = {"events": [
    {"event_type": "turn.recorded", "turn_id": 1, "person_id": "p-7",
     "payload": {"role": "user", "text": "I'd like to ask about veneers", "intent": "service_inquiry"}},
]}


class AppendResult(BaseModel):
    event_id: str
    seq: int
    duplicate: bool


class DroppedAct(BaseModel):
    index: int = Field(description="the event in the batch whose act was dropped")
    scope: str
    act: dict[str, Any]
    kept_seq: int = Field(description="the logged write that kept the scope")


class AppendResponse(BaseModel):
    results: list[AppendResult]
    strategy: str | None = Field(None, description="present when a stale `expected_seq` was merged "
                                 "by this conflict strategy (docs/architecture.md)")
    dropped: list[DroppedAct] | None = Field(None, description="provider_priority: the batch's acts "
                                             "that lost their scope to a higher-ranked write")


class RepairRequest(BaseModel):
    dry_run: bool = True
    tenant_id: str | None = None
    session_id: str | None = Field(default=None, description="re-publish this session's events")
    from_seq: int = Field(default=1, ge=1, le=MAX_INT64)


async def read_body_within(request: Request, limit: int) -> bytes:
    """The request body, or 413 once the declared or the received length passes `limit`."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit:
        raise ProblemError(413, "Payload too large", f"body of {declared} bytes exceeds {limit}")
    body = await request.body()
    if len(body) > limit:
        raise ProblemError(413, "Payload too large", f"body of {len(body)} bytes exceeds {limit}")
    return body


@router.post("/sessions/{session_id}/events", response_model=AppendResponse, responses=LOCKED,
             openapi_extra={"requestBody": {"content": {"application/json": {"example": _APPEND_EXAMPLE}}}})
async def append_events(
    request: Request, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> Response:
    """Append one event or a batch; duplicates answer with their original seq."""
    # (Not in the docstring, which is the OpenAPI description.) The adapters are read from
    # the app rather than declared as a `Deps` dependency: every FastAPI sub-dependency is
    # one more recursive `solve_dependencies` pass per request on the busiest route, and
    # `Deps` adds nothing to the OpenAPI; the key (a dependency) is still checked first.
    deps = deps_from(request.app, IngestDeps)
    settings = deps.settings
    body = await read_body_within(request, settings.max_batch_bytes)
    structlog.contextvars.bind_contextvars(session_id=session_id)
    try:
        batch = parse_batch(body, session_id=session_id, tenant_id=principal.tenant,
                            max_event_bytes=settings.max_event_bytes,
                            max_batch_events=settings.max_batch_events,
                            max_restore_bytes=settings.max_restore_event_bytes)
    except IntakeError:  # answered by its kind (422, or 413 over a limit): counted here
        EVENTS.labels("rejected", "http").inc()
        raise
    await check_append(deps, principal, session_id, [e.person_id for e in batch.events])
    # set_attribute measured cheaper than `attributes=` at start (the sampler copies those)
    with tracer("lifeline.ingest").start_as_current_span("ingest.log.append") as span:
        span.set_attribute("lifeline.session_id", session_id)
        span.set_attribute("lifeline.events", len(batch.events))
        append = AppendRequest(principal.tenant, session_id, batch.events, batch.expected_seq,
                               current_traceparent(), "http", participant_id=batch.writer,
                               on_conflict=batch.on_conflict, lock_token=batch.lock_token)
        outcomes = await deps.committer.append(append)  # a refusal is answered 409 by its kind
    log.info("events.appended", events=len(outcomes), duplicates=sum(o.duplicate for o in outcomes),
             last_seq=max(o.seq for o in outcomes))
    # Serialized directly: re-validating up to 1,000 results against the response model
    # (which still documents the shape) was measurable per request.
    results = [{"event_id": str(o.event_id), "seq": o.seq, "duplicate": o.duplicate} for o in outcomes]
    answer: dict[str, Any] = {"results": results}
    if append.stale is not None:  # a stale batch merged by its strategy (conflict_commit.py)
        answer |= {"strategy": append.stale.strategy, "dropped": append.stale.dropped}
    body = orjson.dumps(answer)
    return Response(body, media_type="application/json")


async def _require_session(deps: Deps, tenant: str, session_id: str) -> int:
    last_seq = await store.session_last_seq(deps.pool, tenant, session_id)
    if last_seq is None:
        raise session_not_found(session_id)
    return last_seq


@router.get("/sessions/{session_id}/events")
async def read_events(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    after_seq: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    tenant_id: TenantParam = None,
) -> Response:
    """Events after `after_seq`, in seq order (the log is the truth; projections heal from here).

    A branch's log holds its parent's events up to the branch point, re-scoped to it.
    """
    tenant = tenant_for(principal, tenant_id)
    last_seq = await _require_session(deps, tenant, session_id)
    rows = await branch_store.read_events(deps.pool, tenant, session_id, after_seq, limit)
    next_after = rows[-1][0] if rows else after_seq
    body = (b'{"session_id":"' + session_id.encode() + b'","last_seq":' + str(last_seq).encode()
            + b',"next_after_seq":' + str(next_after).encode()
            + b',"events":[' + b",".join(r[1].encode() for r in rows) + b"]}")
    return Response(body, media_type="application/json")


@router.get("/sessions/{session_id}")
async def read_session(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    tenant = tenant_for(principal, tenant_id)
    last_seq = await _require_session(deps, tenant, session_id)
    return {"session_id": session_id, "tenant_id": tenant, "last_seq": last_seq}


@router.get("/sessions/{session_id}/wal")
async def read_wal(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    after_seq: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    """Each event's place in the log and whether the relay has published it."""
    tenant = tenant_for(principal, tenant_id)
    last_seq = await _require_session(deps, tenant, session_id)
    entries = await branch_store.read_wal(deps.pool, tenant, session_id, after_seq, limit)
    return {"session_id": session_id, "last_seq": last_seq, "entries": entries,
            "unpublished": sum(not e["published"] for e in entries)}


@router.post("/admin/wal/repair")
async def repair_wal(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_scope("admin"))],
    body: Annotated[RepairRequest, Body()] = RepairRequest(),
) -> dict[str, Any]:
    """Report (dry run, the default) or re-publish what the bus never got.

    With `session_id`, also re-queue that session's events from `from_seq` so every
    projection re-applies them (they dedupe by seq, so nothing doubles). The outbox
    report (`before`) covers every tenant, so only an operator key gets it.
    """
    report: dict[str, Any] = {"dry_run": body.dry_run}
    if has_scope(principal, OPERATOR_SCOPE):  # the outbox spans every tenant: operators only
        report["before"] = await store.outbox_report(deps.pool)
    if body.session_id and not body.dry_run:
        tenant = tenant_for(principal, body.tenant_id)
        await _require_session(deps, tenant, body.session_id)
        report["requeued"] = await store.mark_unpublished(deps.pool, tenant, body.session_id, body.from_seq)
    if not body.dry_run:
        deps.relay.wake()
    report["relay"] = {"leader": deps.relay.is_leader, "bus_ok": deps.relay.bus_ok}
    return report


# Included after this module's routes: FastAPI tries an included router's routes in order,
# twice per request (to match, then to handle), so the append route comes first.
router.include_router(branches_router)
