"""trace-store's HTTP routes: the trace replay API (README) and traces by OTel trace id.

Every query is scoped to the caller's tenant (another tenant's trace is a 404), and a
person-scoped key's to its persons (another person's trace or session is a 404; listings
and stats keep its persons' only; cleanup is refused); cleanup, stats and deletion need
the admin scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from lifeline_events import EVENT_TYPES, TOPIC_EVENTS, TOPIC_LIFECYCLE
from lifeline_servicekit import (
    ID_PATTERN,
    MAX_INT64,
    OPERATOR_SCOPE,
    Principal,
    ProblemError,
    TenantParam,
    deps_from,
    has_scope,
    require_scope,
    require_unscoped,
    sees_person,
    session_not_found,
    tenant_for,
)
from lifeline_store import wrap_errors
from lifeline_tracestore import session_states, store
from lifeline_tracestore.contexts import keep_chains, with_contexts
from lifeline_tracestore.deps import Deps, TraceStoreDeps
from lifeline_tracestore.domain import OTEL_TRACE_ID, SOURCE_EVENTS, iso, trace_document
from lifeline_tracestore.errors import TraceNotFoundError
from lifeline_tracestore.lineage import router as lineage_router
from lifeline_tracestore.metrics import REPLAYS, TRACES_REMOVED
from lifeline_tracestore.trace_replay import paced_stream

router = APIRouter(tags=["trace-store"])
router.include_router(lineage_router)
ScopeId = Annotated[str, Path(pattern=ID_PATTERN)]
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
MinSeq = Annotated[int | None, Query(ge=1, le=MAX_INT64,
                                     description="wait (bounded) for the traces up to this seq")]
_ALLOWED_TYPES = ", ".join(sorted(EVENT_TYPES))
EventTypes = Annotated[list[str] | None, Query(
    description=f"only traces of this event type (repeat for several): one of {_ALLOWED_TYPES}")]


def known_types(values: list[str] | None) -> list[str] | None:
    """The `?event_type=` filter, or None; a type no event can have is a 422 listing the allowed ones.

    Checked against the shared registry rather than accepted as any name: a typo would
    otherwise answer an empty list, indistinguishable from "no such traces"."""
    if not values:
        return None
    unknown = sorted(set(values) - EVENT_TYPES.keys())
    if unknown:
        msg = f"unknown event type {', '.join(map(repr, unknown))}; expected one of: {_ALLOWED_TYPES}"
        raise ProblemError(422, "Invalid request", f"event_type: {msg}",
                           errors=[{"field": "query.event_type", "msg": msg}])
    return sorted(set(values))


class ReplayRequest(BaseModel):
    """Body of `POST /replay/{trace_id}`."""

    model_config = ConfigDict(extra="forbid")

    trace_id: UUID | None = Field(None, description="must equal the path's trace id when given")
    include_context: bool = True
    time_scale: float = Field(1.0, ge=0, le=1000)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def session_person(connection: HTTPConnection, tenant: str, session: str) -> tuple[bool, str | None]:
    """Whose session this is, for servicekit's person guard (person-scoped keys only)."""
    with wrap_errors("read session"):
        pool = deps_from(connection.app, TraceStoreDeps).pool
        return await session_states.session_person(pool, tenant, session)


async def _trace_or_404(deps: Deps, principal: Principal, trace_id: UUID) -> Any:
    with wrap_errors("read trace"):
        row = await store.get_trace(deps.pool, principal.tenant, trace_id)
    if row is None or not sees_person(principal, row["person_id"]):
        raise TraceNotFoundError(f"no trace {trace_id} for this tenant")
    return row


@router.get("/replay/stats")
async def trace_stats(deps: Deps, principal: Admin, tenant_id: TenantParam = None) -> Response:
    """Counts of this tenant's traces: total, top persons, event types, the last 7 days
    (another tenant's: operator keys only)."""
    tenant = tenant_for(principal, tenant_id)
    persons = sorted(principal.persons) if principal.persons is not None else None
    with wrap_errors("trace stats"):
        body = await store.stats(deps.pool, tenant, persons=persons)
    return _json({**body, "stats_timestamp": iso(datetime.now(UTC))})


@router.post("/replay/cleanup")
async def cleanup(deps: Deps, principal: Admin, tenant_id: TenantParam = None,
                  days_to_keep: Annotated[int | None, Query(ge=0, le=36_500)] = None) -> Response:
    """Remove traces older than `days_to_keep` (default: the retention setting): a tenant
    admin's own tenant's; an operator's named `?tenant_id=`, or without it every tenant's."""
    require_unscoped(principal, "trace retention cleanup")
    platform = has_scope(principal, OPERATOR_SCOPE) and not tenant_id
    tenant = None if platform else tenant_for(principal, tenant_id)
    job = deps.retention
    report = await job.run_once("api", days_to_keep, tenant=tenant)
    return _json({"tenant_id": tenant,
                  "days_to_keep": job.retention_days if days_to_keep is None else days_to_keep,
                  "cutoff": iso(report.cutoff), "deleted_count": report.removed,
                  "dropped_partitions": report.dropped_partitions,
                  "dropped_traces": report.dropped_traces, "trimmed_traces": report.deleted_traces})


@router.get("/replay/session/{person_id}/{session_id}")
async def session_traces(deps: Deps, principal: Reader, person_id: ScopeId, session_id: ScopeId,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         min_seq: MinSeq = None, event_type: EventTypes = None) -> Response:
    """A session's traces in time order (a bare JSON array, the public shape)."""
    types = known_types(event_type)
    await deps.freshness.wait_for(principal.tenant, session_id, min_seq)
    with wrap_errors("read session traces"):
        rows = await store.session_traces(deps.pool, principal.tenant, person_id, session_id, limit, types)
        rows = await with_contexts(deps.pool, principal.tenant, rows)
    return _json([trace_document(r) for r in rows])


@router.post("/replay/session/{person_id}/{session_id}/stream")
async def stream_session(deps: Deps, principal: Reader, person_id: ScopeId, session_id: ScopeId,
                         time_scale: Annotated[float, Query(ge=0, le=1000)] = 1.0,
                         limit: Annotated[int | None, Query(ge=1, le=MAX_INT64)] = None,
                         min_seq: MinSeq = None, event_type: EventTypes = None) -> StreamingResponse:
    """Replay a session as Server-Sent Events, paced by the original gaps × time_scale."""
    settings = deps.settings
    types = known_types(event_type)
    await deps.freshness.wait_for(principal.tenant, session_id, min_seq)
    cap = min(limit or settings.trace_stream_max_events, settings.trace_stream_max_events)
    with wrap_errors("read session traces"):
        rows = await store.session_traces(deps.pool, principal.tenant, person_id, session_id, cap, types)
        rows = await with_contexts(deps.pool, principal.tenant, rows)
    if not rows:
        raise session_not_found(session_id, f"no traces of session {session_id!r} for person "
                                f"{person_id!r} in this tenant")
    REPLAYS.labels("session_stream").inc()
    stream = paced_stream(rows, session_id=session_id, time_scale=time_scale,
                          max_gap_s=settings.trace_stream_max_gap_s)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/replay/person/{person_id}")
async def person_traces(deps: Deps, principal: Reader, person_id: ScopeId,
                        offset: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                        event_type: EventTypes = None) -> Response:
    """A person's traces, newest first, with the total and whether more follow."""
    types = known_types(event_type)
    with wrap_errors("read person traces"):
        rows, total = await store.person_traces(deps.pool, principal.tenant, person_id,
                                                offset, limit, types)
        rows = await with_contexts(deps.pool, principal.tenant, rows)
    return _json({"traces": [trace_document(r) for r in rows], "total_count": total,
                  "has_more": offset + len(rows) < total})


@router.get("/replay/{trace_id}")
async def get_trace(deps: Deps, principal: Reader, trace_id: UUID) -> Response:
    """One trace (the public `EventTrace`, plus `otel_trace_id`)."""
    row = await _trace_or_404(deps, principal, trace_id)
    with wrap_errors("rebuild a trace's context"):
        (row,) = await with_contexts(deps.pool, None, [row])
    return _json(trace_document(row))


@router.post("/replay/{trace_id}")
async def replay_trace(deps: Deps, principal: Reader, trace_id: UUID,
                       body: Annotated[ReplayRequest, Body()] = ReplayRequest()) -> Response:
    """Replay one trace: its context rebuilt by the fold from the session's log."""
    if body.trace_id is not None and body.trace_id != trace_id:
        raise ProblemError(422, "Invalid request", "trace_id: the body's trace_id differs from the path's",
                           errors=[{"field": "trace_id", "msg": "must equal the trace id in the path"}])
    row = await _trace_or_404(deps, principal, trace_id)
    if body.include_context:
        with wrap_errors("rebuild a trace's context"):
            (row,) = await with_contexts(deps.pool, None, [row])
    REPLAYS.labels("trace").inc()
    return _json(await deps.replayer.replay(
        principal.tenant, row, include_context=body.include_context, time_scale=body.time_scale))


@router.delete("/replay/{trace_id}")
async def delete_trace(deps: Deps, principal: Admin, trace_id: UUID) -> Response:
    """Delete one trace of this tenant."""
    await _trace_or_404(deps, principal, trace_id)  # another person's: 404 for a scoped key
    with wrap_errors("delete trace"):
        async with deps.pool.acquire() as conn, conn.transaction():
            # the next row may rebuild its context through this one: it keeps it first
            await keep_chains(conn, "traces.event_traces", "{t}.trace_id = $1 AND {t}.tenant_id = $2",
                              trace_id, principal.tenant)
            deleted = await store.delete_trace(conn, principal.tenant, trace_id)
    if not deleted:
        raise TraceNotFoundError(f"no trace {trace_id} for this tenant")
    TRACES_REMOVED.labels("api_delete").inc()
    return _json({"trace_id": str(trace_id), "deleted": True})


@router.get("/v1/traces/by-otel/{otel_trace_id}")
async def by_otel(deps: Deps, principal: Reader, otel_trace_id: Annotated[str, Path()],
                  event_type: EventTypes = None) -> Response:
    """Every event of one distributed trace, and every service known to have handled it."""
    if not OTEL_TRACE_ID.match(otel_trace_id):
        msg = "expected 32 lowercase hex digits"
        raise ProblemError(422, "Invalid request", f"otel_trace_id: {msg}",
                           errors=[{"field": "path.otel_trace_id", "msg": msg}])
    types = known_types(event_type)
    with wrap_errors("read traces by otel id"):
        rows = await store.otel_traces(deps.pool, principal.tenant, otel_trace_id, types)
    rows = [r for r in rows if sees_person(principal, r["person_id"])]
    if not rows:
        raise TraceNotFoundError(f"no events of OTel trace {otel_trace_id} for this tenant")
    events = [_handled(r) for r in rows]
    services = sorted({h["service"] for e in events for h in e["handled_by"]})
    return _json({"otel_trace_id": otel_trace_id, "events": events, "services": services})


def _handled(row: Any) -> dict[str, Any]:
    """What we know handled one event: ingest logged it (recorded_at), we stored it."""
    from_log = row["source"] == SOURCE_EVENTS
    handled = [{"service": "ingest", "action": "logged", "at": iso(row["ts"])}] if from_log else []
    handled.append({"service": "trace-store", "action": "stored", "at": iso(row["stored_at"]),
                    "topic": TOPIC_EVENTS if from_log else TOPIC_LIFECYCLE})
    return {"trace_id": str(row["trace_id"]), "session_id": row["session_id"], "person_id": row["person_id"],
            "seq": row["seq"], "event_type": row["event_type"], "timestamp": iso(row["ts"]),
            "handled_by": handled}
