"""HTTP routes for operators: run a tick now, verify the log, read the audit."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from lifeline_governance import queries
from lifeline_governance.deps import Deps
from lifeline_governance.errors import InvalidRequestError, NotFoundError
from lifeline_governance.verify import verify
from lifeline_servicekit import (
    MAX_INT64,
    Principal,
    SaneDatetime,
    TenantParam,
    require_scope,
    sane_instant,
    tenant_for,
)

router = APIRouter(tags=["lifecycle"])
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
Kind = Literal["transition", "anomaly", "register", "override", "freeze", "configure"]


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intent: str | None = Field(None, min_length=1, max_length=128)
    dry_run: bool = False
    tick: SaneDatetime | None = Field(None, description="evaluate as of this time (default: now)")


class VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: SaneDatetime | None = Field(None, alias="from")
    to: SaneDatetime | None = None


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return sane_instant(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidRequestError(
            f"{name}: {value!r} is not an ISO 8601 time in range ({exc})", field=name
        ) from exc


@router.post("/v1/admin/lifecycle/run")
async def run(body: RunBody, deps: Deps, who: Admin, tenant_id: TenantParam = None) -> dict[str, Any]:
    """Run a tick now (truncated to the second) for this tenant; `dry_run` writes nothing."""
    tenant = tenant_for(who, tenant_id)
    tick = int(body.tick.timestamp()) if body.tick else int(time.time())
    report = await deps.job.run_tick(tick, intent=body.intent, tenant=tenant, dry_run=body.dry_run)
    if report.decisions and not body.dry_run:
        await deps.announcer.announce()
        await deps.routing.reload(tenant)
    return {
        "tick": datetime.fromtimestamp(report.tick, UTC).isoformat(),
        "outcome": report.outcome,
        "reason": report.reason,
        "intents": report.intents,
        "decisions": [
            {
                "seq": d.seq,
                "decision_id": str(d.decision_id),
                "kind": d.kind,
                "rule": d.rule,
                "intent": d.intent,
                "model_id": d.model_id,
                "from_state": d.from_state,
                "to_state": d.to_state,
                "reason": d.reason,
            }
            for d in report.decisions
        ],
    }


@router.post("/v1/admin/lifecycle/verify")
async def verify_log(
    body: VerifyBody, deps: Deps, who: Admin, tenant_id: TenantParam = None
) -> dict[str, Any]:
    """Re-run the pure rules on stored inputs and re-fold the decision log."""
    return await verify(deps.pool, tenant_for(who, tenant_id), body.from_, body.to)


@router.get("/v1/audit")
async def audit(
    deps: Deps,
    who: Reader,
    tenant_id: TenantParam = None,
    intent: str | None = Query(None, max_length=128),
    model_id: str | None = Query(None, max_length=128),
    kind: Kind | None = None,
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    after_seq: int = Query(0, ge=0, le=MAX_INT64),
    limit: int = Query(100, ge=1, le=1000),
    include: str | None = Query(None, pattern="^evaluations$"),
) -> dict[str, Any]:
    """Decisions (append-only), newest last; `include=evaluations` adds why nothing happened."""
    tenant = tenant_for(who, tenant_id)
    start, end = _time(from_, "from"), _time(to, "to")
    rows = await queries.decision_rows(
        deps.pool,
        tenant,
        intent=intent,
        model_id=model_id,
        kind=kind,
        start=start,
        end=end,
        after_seq=after_seq,
        limit=limit,
    )
    body: dict[str, Any] = {"decisions": rows, "next_after_seq": rows[-1]["seq"] if rows else after_seq}
    if include == "evaluations":
        body["evaluations"] = await queries.evaluation_rows(
            deps.pool, tenant, intent=intent, model_id=model_id, start=start, end=end, limit=limit
        )
    return body


@router.get("/v1/audit/{decision_id}")
async def audit_one(
    decision_id: str, deps: Deps, who: Reader, tenant_id: TenantParam = None
) -> dict[str, Any]:
    tenant = tenant_for(who, tenant_id)
    try:
        import uuid

        uuid.UUID(decision_id)
    except ValueError as exc:
        raise NotFoundError(f"no decision {decision_id!r}") from exc
    rows = await queries.decision_rows(deps.pool, tenant, decision_id=decision_id, limit=1)
    if not rows:
        raise NotFoundError(f"no decision {decision_id!r}")
    return rows[0]
