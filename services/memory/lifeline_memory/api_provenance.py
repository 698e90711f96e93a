"""Provenance and correction routes: versions, evidence, per-session digests, suppressions."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from lifeline_common.errors import InvalidInputError
from lifeline_memory import queries, store
from lifeline_memory.api import JSON, PersonId, Reader, _json
from lifeline_memory.canonical import dumps
from lifeline_memory.deps import Deps
from lifeline_memory.errors import SessionNotFoundError
from lifeline_memory.liveness import live_observations
from lifeline_servicekit import (
    ID_PATTERN,
    MAX_INT64,
    Principal,
    SessionId,
    TenantParam,
    require_scope,
    tenant_for,
)
from lifeline_store import wrap_errors

router = APIRouter(prefix="/v1/persons", tags=["memory: provenance"])
Admin = Annotated[Principal, Depends(require_scope("admin"))]
EvidenceKind = Literal["error", "strength", "skill_tag", "flag", "fact"]
LIST_FIELDS = ("top_errors", "top_strengths", "skill_tags", "compliance_flags")


@router.get("/{person_id}/profile/versions", summary="What changed between profile versions")
async def versions(
    person_id: PersonId,
    deps: Deps,
    principal: Reader,
    tenant_id: TenantParam = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    tenant = tenant_for(principal, tenant_id)
    rows = await queries.versions(deps.pool, tenant, person_id, limit)
    if not rows:
        await queries.raise_missing(deps.pool, tenant, person_id)
    out = []
    for i, r in enumerate(rows[:limit]):
        before = rows[i + 1]["summary"] if i + 1 < len(rows) else {}
        changed = {
            f: {
                "added": [c for c in r["summary"][f] if c not in before.get(f, [])],
                "removed": [c for c in before.get(f, []) if c not in r["summary"][f]],
            }
            for f in LIST_FIELDS
        }
        out.append(
            {
                "version": r["version"],
                "content_hash": r["content_hash"],
                "reason": r["reason"],
                "source_session_id": r["source_session_id"],
                "created_at": r["created_at"].isoformat(),
                "announced": r["announced_at"] is not None,
                "sessions_count": r["summary"]["sessions_count"],
                "changed": changed,
            }
        )
    return _json({"person_id": person_id, "versions": out})


@router.get("/{person_id}/evidence", summary="Every turn behind one profile item")
async def evidence(
    person_id: PersonId,
    deps: Deps,
    principal: Reader,
    kind: EvidenceKind,
    code: Annotated[str, Query(min_length=1, max_length=128)],
    tenant_id: TenantParam = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=1000, description="`next` of the previous page")] = None,
) -> Response:
    """Newest first; `live: false` = rolled back by a restore or superseded by a re-grade,
    `suppressed: true` = an admin suppressed it. `event_id` opens the turn in trace-store.
    A full page carries `next`: pass it as `?after=` for the following page."""
    tenant = tenant_for(principal, tenant_id)
    await queries.person_row(deps.pool, tenant, person_id, "content_hash")
    rows = await queries.evidence(deps.pool, tenant, person_id, kind, code, _cursor(after), limit)
    live_keys: set[tuple[str, int, str]] = set()
    with wrap_errors("read evidence liveness"):
        async with deps.pool.acquire() as conn:
            for session in sorted({r["session_id"] for r in rows}):
                live_keys |= {
                    (session, o.seq, o.source)
                    for o in live_observations(await store.load_observations(conn, tenant, session))
                    if o.kind == kind and o.code == code
                }
            sups = await store.load_suppressions(conn, tenant, person_id)
    items = []
    for r in rows:
        suppressed = any(
            s.kind == kind
            and s.code == code
            and s.session_id in (None, r["session_id"])
            and s.turn_id in (None, r["turn_id"])
            for s in sups
        )
        item: dict[str, Any] = {
            "session_id": r["session_id"],
            "turn_id": r["turn_id"],
            "seq": r["seq"],
            "event_id": str(r["event_id"]),
            "source": r["source"],
            "intent": r["intent"],
            "recorded_at": r["recorded_at"].isoformat(),
            "occurred_at": r["occurred_at"].isoformat(),
            "live": (r["session_id"], r["seq"], r["source"]) in live_keys,
            "suppressed": suppressed,
        }
        if kind == "fact":
            item["value"] = None if r["value"] is None else r["value"].get("value")
        items.append(item)
    last = rows[-1] if len(rows) == limit else None
    following = (
        None
        if last is None
        else base64.urlsafe_b64encode(
            orjson.dumps([last["recorded_at"].isoformat(), last["session_id"], last["seq"], last["source"]])
        ).decode()
    )
    return _json({"person_id": person_id, "kind": kind, "code": code, "evidence": items, "next": following})


def _cursor(after: str | None) -> tuple[datetime, str, int, str] | None:
    """Decode `?after=`; anything else than a cursor we issued is a 422 naming the field."""
    if after is None:
        return None
    try:
        at, session, seq, source = orjson.loads(base64.urlsafe_b64decode(after.encode()))
        return datetime.fromisoformat(at), str(session), int(seq), str(source)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInputError(
            "after: not a cursor this API issued",
            [{"field": "query.after", "msg": "not a cursor this API issued"}],
        ) from None


@router.get("/{person_id}/sessions", summary="Per-session digests of the person")
async def sessions(
    person_id: PersonId,
    deps: Deps,
    principal: Reader,
    tenant_id: TenantParam = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    tenant = tenant_for(principal, tenant_id)
    rows = await queries.digests(deps.pool, tenant, person_id, limit)
    if not rows:
        await queries.raise_missing(deps.pool, tenant, person_id)
    return _json(
        {
            "person_id": person_id,
            "sessions": [
                {
                    "session_id": r["session_id"],
                    "status": r["status"],
                    "through_seq": r["through_seq"],
                    "finished_at": r["finished_at"].isoformat(),
                    "turns": r["turns"],
                    "summary": r["summary"],
                    "digest_hash": r["digest_hash"],
                    "sealed_at": r["sealed_at"].isoformat(),
                }
                for r in rows
            ],
        }
    )


@router.get("/{person_id}/sessions/{session_id}", summary="One session's digest")
async def session_digest(
    person_id: PersonId, session_id: SessionId, deps: Deps, principal: Reader, tenant_id: TenantParam = None
) -> Response:
    tenant = tenant_for(principal, tenant_id)
    found = await queries.digest(deps.pool, tenant, person_id, session_id)
    if found is None:
        raise SessionNotFoundError(f"no digest of session {session_id!r} for person {person_id!r}")
    return _json(found)


class SuppressionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EvidenceKind
    code: str = Field(min_length=1, max_length=128)
    session_id: str | None = Field(None, pattern=ID_PATTERN)
    turn_id: int | None = Field(None, ge=0, le=MAX_INT64)
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{person_id}/suppressions", status_code=201, summary="Suppress one piece of evidence")
async def suppress(
    person_id: PersonId, body: SuppressionRequest, deps: Deps, principal: Admin, tenant_id: TenantParam = None
) -> Response:
    """The affected digests are re-sealed and the profile recomputed as if it never existed."""
    tenant = tenant_for(principal, tenant_id)
    await queries.person_row(deps.pool, tenant, person_id, "content_hash")
    sid, outcome = await deps.operations.suppress(
        tenant,
        person_id,
        kind=body.kind,
        code=body.code,
        session_id=body.session_id,
        turn_id=body.turn_id,
        reason=body.reason,
        actor=principal.tenant,
    )
    deps.bias_cache.drop(tenant, person_id)
    return _json({"id": str(sid), **body.model_dump(), "profile": outcome.answer()}, 201)


@router.get("/{person_id}/suppressions", summary="The person's suppressions")
async def list_suppressions(
    person_id: PersonId, deps: Deps, principal: Admin, tenant_id: TenantParam = None
) -> Response:
    tenant = tenant_for(principal, tenant_id)
    rows = await queries.suppressions(deps.pool, tenant, person_id)
    return _json(
        {
            "person_id": person_id,
            "suppressions": [
                {
                    "id": str(r["id"]),
                    "kind": r["kind"],
                    "code": r["code"],
                    "session_id": r["session_id"],
                    "turn_id": r["turn_id"],
                    "reason": r["reason"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows
            ],
        }
    )


@router.delete("/{person_id}/suppressions/{suppression_id}", summary="Undo a suppression")
async def unsuppress(
    person_id: PersonId, suppression_id: UUID, deps: Deps, principal: Admin, tenant_id: TenantParam = None
) -> Response:
    tenant = tenant_for(principal, tenant_id)
    outcome = await deps.operations.unsuppress(tenant, person_id, suppression_id)
    deps.bias_cache.drop(tenant, person_id)
    if outcome is None:
        return Response(
            dumps(
                {
                    "type": "about:blank",
                    "title": "Suppression not found",
                    "status": 404,
                    "detail": f"no suppression {suppression_id} for {person_id!r}",
                }
            ),
            status_code=404,
            media_type="application/problem+json",
        )
    return Response(
        dumps({"id": str(suppression_id), "deleted": True, "profile": outcome.answer()}), media_type=JSON
    )
