"""The WAL across services: published (ingest) and applied (snapshot, replay), and repair."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from lifeline_servicekit import (
    MAX_INT64,
    Principal,
    ProblemError,
    SessionId,
    forwarded_authorization,
    has_scope,
    require_scope,
    session_not_found,
)
from lifeline_snapshot import store
from lifeline_snapshot.deps import Deps, SnapshotDeps
from lifeline_snapshot.metrics import counted
from lifeline_snapshot.wal.view import Projected, annotate, lag, plan

router = APIRouter(prefix="/v1", tags=["wal"])


class ReconcileRequest(BaseModel):
    dry_run: bool = True


async def _projections(deps: SnapshotDeps, authorization: str, tenant: str,
                       session: str) -> dict[str, Projected]:
    own = await store.projected_seq(deps.pool, tenant, session)
    status, replay = await deps.replay.checkpoint(session, authorization)
    return {"snapshot": Projected("ok", own or 0), "replay": Projected(status, replay)}


def _describe(projections: dict[str, Projected]) -> dict[str, Any]:
    return {name: {"status": p.status, "last_seq": p.last_seq} for name, p in projections.items()}


@router.get("/sessions/{session_id}/wal")
async def wal_view(
    request: Request, deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    after_seq: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Each event after `after_seq`: published by ingest, applied by each projection."""
    page = await deps.ingest.wal_page(principal.tenant, session_id, after_seq, limit)
    if page is None:
        raise session_not_found(session_id)
    projections = await _projections(deps, forwarded_authorization(request), principal.tenant, session_id)
    entries = annotate(page["entries"], projections)
    return {"session_id": session_id, "last_seq": page["last_seq"], "projections": _describe(projections),
            "lag": lag(page["last_seq"], projections), "unpublished": page["unpublished"],
            "entries": entries, "next_after_seq": entries[-1]["seq"] if entries else after_seq}


async def _unpublished(deps: SnapshotDeps, tenant: str, session: str) -> tuple[int, list[int]]:
    cursor, last_seq, unpublished = 0, 0, []
    while True:
        page = await deps.ingest.wal_page(tenant, session, cursor, 1000)
        if page is None:
            raise session_not_found(session)
        last_seq = page["last_seq"]
        unpublished += [e["seq"] for e in page["entries"] if not e["published"]]
        if len(page["entries"]) < 1000:
            return last_seq, unpublished
        cursor = page["entries"][-1]["seq"]


@router.post("/sessions/{session_id}/wal/reconcile")
@counted("reconcile")
async def reconcile(
    request: Request, deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    body: Annotated[ReconcileRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Report what is unpublished or unapplied (dry run, the default); with `dry_run: false`
    (admin scope) ask ingest to re-publish from the lowest such seq so lagging projections catch up."""
    dry_run = body.dry_run if body else True
    if not dry_run and not has_scope(principal, "admin"):
        raise ProblemError(403, "Forbidden", "a repairing reconcile (dry_run: false) needs the 'admin' scope",
                           field="dry_run")
    last_seq, unpublished = await _unpublished(deps, principal.tenant, session_id)
    projections = await _projections(deps, forwarded_authorization(request), principal.tenant, session_id)
    todo = plan(last_seq, unpublished, projections)
    out: dict[str, Any] = {"session_id": session_id, "dry_run": dry_run, "last_seq": last_seq,
                           "unpublished": len(unpublished), "projections": _describe(projections),
                           "lag": lag(last_seq, projections), "plan": todo, "repair": None}
    if not dry_run and todo["needed"]:
        out["repair"] = await deps.ingest.repair(principal.tenant, session_id, todo["from_seq"])
    return out
