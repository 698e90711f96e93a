"""snapshot's HTTP routes for snapshots, restore and recap."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from lifeline_events import SessionState, content_hash
from lifeline_projection import SessionKey
from lifeline_servicekit import (
    Principal,
    ProblemError,
    SessionId,
    deps_from,
    forwarded_authorization,
    require_scope,
    session_not_found,
)
from lifeline_snapshot import store
from lifeline_snapshot.api_versions import router as versions_router
from lifeline_snapshot.deps import Deps, SnapshotDeps
from lifeline_snapshot.metrics import counted
from lifeline_snapshot.recap import build_recap

router = APIRouter(prefix="/v1", tags=["snapshot"])
router.include_router(versions_router)
SnapshotId = Annotated[str, Path(min_length=1, max_length=128)]
log = structlog.get_logger("lifeline.snapshot")


class CreateSnapshot(BaseModel):
    label: str | None = Field(default=None, max_length=500, description="a name for this snapshot")


def _no_snapshot(session_id: str, snapshot_id: str) -> ProblemError:
    return ProblemError(404, "Snapshot not found", f"no snapshot {snapshot_id!r} in session {session_id!r}")


async def require_session(deps: SnapshotDeps, tenant: str, session_id: str) -> dict[str, Any]:
    """The session's folded state, catching up from ingest first; 404 if the tenant has none."""
    structlog.contextvars.bind_contextvars(session_id=session_id)
    await deps.projector.catch_up(SessionKey(tenant, session_id))
    stored = await store.read_state(deps.pool, tenant, session_id)
    if stored is None:
        raise session_not_found(session_id)
    return stored


async def session_person(connection: HTTPConnection, tenant: str, session: str) -> tuple[bool, str | None]:
    """Whose session this is (its folded state's person), for servicekit's person guard: a
    person-scoped key gets 404 for another person's snapshots, recap, export and WAL."""
    deps = deps_from(connection.app, SnapshotDeps)
    await deps.projector.catch_up(SessionKey(tenant, session))
    stored = await store.read_state(deps.pool, tenant, session)
    return stored is not None, stored.get("person_id") if stored is not None else None


@router.post("/sessions/{session_id}/snapshots", status_code=201)
async def create_snapshot(
    deps: Deps, response: Response, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
    body: Annotated[CreateSnapshot | None, Body()] = None,
) -> dict[str, Any]:
    """Snapshot the session now; the same state again answers 200 with the existing row."""
    structlog.contextvars.bind_contextvars(session_id=session_id)
    label = body.label if body else None
    taken = await deps.projector.snapshot_now(SessionKey(principal.tenant, session_id), label)
    if taken is None:
        raise session_not_found(session_id)
    row, created = taken
    if not created:
        response.status_code = 200
    return {**row.summary(), "created": created}


@router.get("/sessions/{session_id}/snapshots")
async def list_snapshots(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> dict[str, Any]:
    """The session's snapshots, newest first (without their states)."""
    await require_session(deps, principal.tenant, session_id)
    rows = await store.list_snapshots(deps.pool, principal.tenant, session_id)
    return {"session_id": session_id, "snapshots": [r.summary() for r in rows]}


@router.get("/sessions/{session_id}/snapshots/{snapshot_id}")
async def get_snapshot(
    deps: Deps, session_id: SessionId, snapshot_id: SnapshotId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> dict[str, Any]:
    """One snapshot with its state."""
    row = await store.get_snapshot(deps.pool, principal.tenant, session_id, snapshot_id)
    if row is None:
        raise _no_snapshot(session_id, snapshot_id)
    return row.summary(with_state=True)


@router.delete("/sessions/{session_id}/snapshots/{snapshot_id}", status_code=204)
async def delete_snapshot(
    deps: Deps, session_id: SessionId, snapshot_id: SnapshotId,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> Response:
    if not await store.delete_snapshot(deps.pool, principal.tenant, session_id, snapshot_id):
        raise _no_snapshot(session_id, snapshot_id)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/restore/{snapshot_id}")
@counted("restore")
async def restore_snapshot(
    request: Request, deps: Deps, session_id: SessionId, snapshot_id: SnapshotId,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> dict[str, Any]:
    """Append `session.restored` through ingest: history is kept, the state is the snapshot's."""
    structlog.contextvars.bind_contextvars(session_id=session_id)
    row = await store.get_snapshot(deps.pool, principal.tenant, session_id, snapshot_id)
    if row is None:
        raise _no_snapshot(session_id, snapshot_id)
    if row.state is None or content_hash(row.state) != row.content_hash:
        raise ProblemError(409, "Snapshot corrupted", f"snapshot {snapshot_id!r} no longer matches its hash")
    event = {"event_type": "session.restored", "person_id": row.state.get("person_id"),
             "payload": {"snapshot_id": row.id, "content_hash": row.content_hash, "state": row.state}}
    results = await deps.ingest.append(session_id, event, forwarded_authorization(request))
    log.info("snapshot.restored", snapshot_id=row.id, seq=results[0]["seq"])
    return {"session_id": session_id, "snapshot_id": row.id, "content_hash": row.content_hash,
            "snapshot_at_seq": row.at_seq, "seq": results[0]["seq"], "event_id": results[0]["event_id"],
            "duplicate": results[0]["duplicate"]}


@router.get("/sessions/{session_id}/recap")
@counted("recap")
async def recap(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    last_turns: Annotated[int, Query(alias="lastTurns", ge=0, le=50)] = 3,
) -> dict[str, Any]:
    """A deterministic recap: the same events always give the same text."""
    stored = await require_session(deps, principal.tenant, session_id)
    state = SessionState.model_validate(stored)
    result = build_recap(state, last_turns)
    return {"session_id": session_id, "seq": state.seq, "last_turns": last_turns,
            "sentences": list(result.sentences), "recap": result.text}
