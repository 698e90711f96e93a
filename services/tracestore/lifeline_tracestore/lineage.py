"""A session's lineage as trace-store knows it: where it branched from, and its branches.

Every branch's log carries `session.branched` events (its own, and its ancestors'
inherited ones), and the fold keeps the nearest origin in the session state
(`branched_from`), which trace-store holds per session in `traces.sessions` even after
the traces themselves expire. The lineage walks that column upwards; the branches of a
session are the sessions whose origin names it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from lifeline_servicekit import (
    ID_PATTERN,
    Principal,
    TenantParam,
    require_scope,
    session_not_found,
    tenant_for,
)
from lifeline_store import wrap_errors
from lifeline_tracestore.deps import Deps

router = APIRouter(tags=["trace-store"])

# `branched_from` is its own column (migration 006); a row last written by a pod of an
# earlier release has it only inside the state.
_ORIGIN = "coalesce({t}branched_from, {t}state->'branched_from')"
_LINEAGE = f"""
WITH RECURSIVE up AS (
    SELECT session_id, {_ORIGIN.format(t='')} AS origin, 1 AS depth FROM traces.sessions
    WHERE tenant_id = $1 AND session_id = $2 AND {_ORIGIN.format(t='')} IS NOT NULL
  UNION ALL
    SELECT s.session_id, {_ORIGIN.format(t='s.')}, up.depth + 1 FROM up
    JOIN traces.sessions s ON s.tenant_id = $1 AND s.session_id = up.origin->>'parent_session_id'
    WHERE {_ORIGIN.format(t='s.')} IS NOT NULL
)
SELECT session_id, origin->>'parent_session_id' AS parent_session_id,
       (origin->>'from_seq')::bigint AS from_seq, origin->>'name' AS name
FROM up ORDER BY depth
"""
_BRANCHES = f"""
SELECT session_id, origin->>'parent_session_id' AS parent_session_id,
       (origin->>'from_seq')::bigint AS from_seq, origin->>'name' AS name
FROM (SELECT session_id, {_ORIGIN.format(t='')} AS origin FROM traces.sessions WHERE tenant_id = $1) AS s
WHERE origin->>'parent_session_id' = $2
ORDER BY session_id
"""


@router.get("/v1/sessions/{session_id}/branches")
async def session_branches(
    deps: Deps, session_id: Annotated[str, Path(pattern=ID_PATTERN)],
    principal: Annotated[Principal, Depends(require_scope("read"))],
    tenant_id: TenantParam = None,
) -> dict[str, Any]:
    """The session's lineage (its parent, the parent's parent … nearest first) and its branches."""
    tenant = tenant_for(principal, tenant_id)
    with wrap_errors("read a lineage"):
        known = await deps.pool.fetchval(
            "SELECT true FROM traces.sessions WHERE tenant_id = $1 AND session_id = $2", tenant, session_id)
        if not known:
            raise session_not_found(session_id, f"no traces of session {session_id!r} for this tenant")
        up = [dict(r) for r in await deps.pool.fetch(_LINEAGE, tenant, session_id)]
        down = [dict(r) for r in await deps.pool.fetch(_BRANCHES, tenant, session_id)]
    return {"session_id": session_id, "branched_from": up[0] if up else None,
            "root_session_id": up[-1]["parent_session_id"] if up else session_id,
            "lineage": up, "branches": down}
