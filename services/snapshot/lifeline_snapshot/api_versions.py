"""snapshot's version routes: name the session's current state, list the names.

A version is an on-demand snapshot (the same path as `POST …/snapshots`: catch up from
ingest's log, snapshot the folded state) with a `message` and `tags`. Rolling back to a
version is the existing restore: `POST /v1/sessions/{id}/restore/{version_id}` appends
`session.restored` carrying the version's state; the history stays in the log.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lifeline_projection import SessionKey
from lifeline_servicekit import Principal, ProblemError, SessionId, require_scope, session_not_found
from lifeline_snapshot import store, versions_store
from lifeline_snapshot.deps import Deps

router = APIRouter(tags=["versions"])
log = structlog.get_logger("lifeline.snapshot")
_TAG_PATTERN = r"^[A-Za-z0-9._:@/+-]+$"
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=_TAG_PATTERN)]


class CreateVersion(BaseModel):
    """What this version is: a message, and tags to find it by."""

    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    tags: list[Tag] = Field(default_factory=list, max_length=32)


@router.post("/sessions/{session_id}/versions", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "example": {"message": "before the party splits up", "tags": ["act-2", "safe"]}}}}})
async def create_version(
    deps: Deps, response: Response, session_id: SessionId, body: Annotated[CreateVersion, Body()],
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> dict[str, Any]:
    """Snapshot the session now and name it; 201 for a new version.

    The same state again names the same snapshot: 200, the first message kept and the
    tags merged. Roll back with `POST …/restore/{version_id}`.
    """
    structlog.contextvars.bind_contextvars(session_id=session_id)
    key = SessionKey(principal.tenant, session_id)
    taken = await deps.projector.snapshot_now(key, None)
    if taken is None:
        raise session_not_found(session_id)
    marked = await versions_store.mark_version(deps.pool, principal.tenant, session_id, taken[0].id,
                                               body.message, body.tags)
    if marked is None:  # retention removed the snapshot in between: rare, and safe to retry
        raise ProblemError(503, "Snapshot went away", "the snapshot was removed while naming it; retry")
    version, created = marked
    if not created:
        response.status_code = 200
    log.info("snapshot.versioned", snapshot_id=version.snapshot_id, at_seq=version.at_seq, created=created)
    return {**version.summary(), "created": created}


@router.get("/sessions/{session_id}/versions")
async def list_versions(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    tag: Annotated[str | None, Query(min_length=1, max_length=64, pattern=_TAG_PATTERN,
                                     description="only versions with this tag")] = None,
) -> dict[str, Any]:
    """The session's versions, newest first (404 for a session snapshot has never seen)."""
    versions = await versions_store.list_versions(deps.pool, principal.tenant, session_id, tag)
    if not versions:
        key = SessionKey(principal.tenant, session_id)
        await deps.projector.catch_up(key)
        if await store.read_state(deps.pool, principal.tenant, session_id) is None:
            raise session_not_found(session_id)
    return {"session_id": session_id, "tag": tag, "versions": [v.summary() for v in versions]}
