"""ingest's branch routes: take a branch of a session, and show a session's lineage.

A branch is a new session whose history is its parent's log up to `from_seq`, by
reference (branch_store.py splices it at read time); its first own event is
`session.branched` at `from_seq + 1`, appended through the group committer like any
other, so seq stays gapless and the relay publishes it. Projections need nothing
special: they see a session whose first delivered seq is `from_seq + 1`, read the
missing range from ingest's log (gap healing) and get the parent's events re-scoped.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lifeline_events import NewEvent, SessionBranched
from lifeline_ingest import branch_store, store
from lifeline_ingest.branching import branch_id, branched_event_id
from lifeline_ingest.committer import AppendRequest
from lifeline_ingest.deps import Deps
from lifeline_servicekit import (
    ID_PATTERN,
    MAX_INT64,
    Principal,
    SessionId,
    TenantParam,
    require_scope,
    session_not_found,
    tenant_for,
)
from lifeline_telemetry import current_traceparent

router = APIRouter(tags=["branches"])
log = structlog.get_logger("lifeline.ingest")
BranchName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class CreateBranch(BaseModel):
    """Where to branch, what to call the branch, and (optionally) its session id."""

    model_config = ConfigDict(extra="forbid")

    from_seq: int = Field(ge=0, le=MAX_INT64, description="the parent's last seq the branch inherits")
    name: BranchName = Field(description="the branch's name; the id defaults to `<parent>.<name>`")
    session_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=128,
                                   description="the branch's session id, if not derived")


@router.post("/sessions/{session_id}/branches", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "example": {"from_seq": 12, "name": "what-if"}}}}})
async def create_branch(
    deps: Deps, session_id: SessionId, body: Annotated[CreateBranch, Body()],
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> dict[str, Any]:
    """A new session continuing this one's log up to `from_seq` (by reference, not by copy).

    404 for an unknown parent, 409 when the branch's id is taken, 422 for a `from_seq`
    beyond the parent's last seq. A retry after a failure between writing the branch and
    its first event finishes the branch (its `session.branched` has a fixed id).
    """
    tenant, parent = principal.tenant, session_id
    branch = branch_id(parent, body.name, body.session_id)
    structlog.contextvars.bind_contextvars(session_id=branch)
    made = await branch_store.create(deps.pool, tenant, branch, parent, body.from_seq, body.name)
    origin = SessionBranched(parent_session_id=parent, from_seq=body.from_seq, name=body.name)
    event = NewEvent(event_type="session.branched", event_id=branched_event_id(tenant, branch),
                     person_id=made.person_id, payload=origin)
    outcome = (await deps.committer.append(AppendRequest(
        tenant, branch, [event], None, current_traceparent(), "http", participant_id=made.writer)))[0]
    log.info("session.branched", parent=parent, from_seq=body.from_seq, seq=outcome.seq, resumed=made.resumed)
    return {"session_id": branch, "parent_session_id": parent, "from_seq": body.from_seq,
            "name": body.name, "seq": outcome.seq, "event_id": str(outcome.event_id)}


@router.get("/sessions/{session_id}/branches")
async def read_branches(
    deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    """The session's lineage (its parent, the parent's parent … nearest first) and its branches."""
    tenant = tenant_for(principal, tenant_id)
    if await store.session_last_seq(deps.pool, tenant, session_id) is None:
        raise session_not_found(session_id)
    up = await branch_store.lineage(deps.pool, tenant, session_id)
    down = await branch_store.children(deps.pool, tenant, session_id)
    return {"session_id": session_id,
            "branched_from": up[0].as_dict() if up else None,
            "root_session_id": up[-1].parent_session_id if up else session_id,
            "lineage": [link.as_dict() for link in up],
            "branches": [link.as_dict() for link in down]}
