"""A session's room over HTTP: participants and edit locks (issue 12, items 1 and 2).

Every change is a room command handed to the group committer, which decides it against
the room as the log last left it and appends the resulting events in the statement that
assigns their seq (room.py has the rules, store.py the guard). Reads come from the room
stored beside the session. A participant id is what the caller says it is: API keys, not
participants, are authenticated (a person-scoped key is limited by servicekit's guard).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from lifeline_events import Room, ScopeId
from lifeline_events.collab import LockScope
from lifeline_ingest import room as rules
from lifeline_ingest import store
from lifeline_ingest.committer import AppendRequest
from lifeline_ingest.deps import Deps
from lifeline_servicekit import (
    MAX_INT64,
    Principal,
    ProblemError,
    SessionId,
    has_scope,
    require_scope,
    session_not_found,
)
from lifeline_servicekit.openapi import LOCKED
from lifeline_telemetry import current_traceparent

router = APIRouter(prefix="/v1", tags=["room"])
ParticipantId = ScopeId  # the id rules of tenants, sessions and persons
Writer = Annotated[Principal, Depends(require_scope("ingest"))]
Reader = Annotated[Principal, Depends(require_scope("read"))]
Token = Annotated[int, Field(ge=1, le=MAX_INT64, description="the lease's fencing token")]
Ttl = Annotated[float | None, Field(gt=0, description="seconds; default and most: LIFELINE_LOCK_TIMEOUT_S")]


class JoinBody(BaseModel):
    participant_id: ParticipantId
    role: Literal["owner", "editor", "viewer"] = "editor"
    actor: ParticipantId | None = Field(None, description="who asks (default: the participant "
                                        "itself); an owner adds owners and changes roles")


class AcquireBody(BaseModel):
    scope: LockScope
    participant_id: ParticipantId
    ttl_s: Ttl = None


class RenewBody(AcquireBody):
    token: Token


async def _run(deps: Deps, principal: Principal, session_id: str,
               command: rules.RoomCommand) -> tuple[Room | None, int | None]:
    """Commit a room command; the room after it, and the last seq it appended (None: no-op)."""
    request = AppendRequest(principal.tenant, session_id, [], traceparent=current_traceparent(),
                            source="room", command=command)
    outcomes = await deps.committer.append(request)
    return request.room, max((o.seq for o in outcomes), default=None)


def _ttl(deps: Deps, ttl_s: float | None) -> float:
    most = deps.settings.lock_timeout_s
    if ttl_s is not None and ttl_s > most:
        raise ProblemError(422, "Invalid request", f"ttl_s: at most {most} (LIFELINE_LOCK_TIMEOUT_S)",
                           errors=[{"field": "ttl_s", "msg": f"must be at most {most}"}])
    return ttl_s if ttl_s is not None else most


async def _stored_room(deps: Deps, tenant: str, session_id: str) -> Room | None:
    exists, room = await store.read_room(deps.pool, tenant, session_id)
    if not exists:
        raise session_not_found(session_id)
    return room


@router.post("/sessions/{session_id}/participants")
async def join(deps: Deps, session_id: SessionId, principal: Writer,
               body: Annotated[JoinBody, Body()]) -> dict[str, Any]:
    """Join the room (the first participant joins as owner), or change a role (owners only)."""
    command = rules.Join(body.participant_id, body.role, actor=body.actor,
                         admin=has_scope(principal, "admin"),
                         max_participants=deps.settings.max_participants)
    room, seq = await _run(deps, principal, session_id, command)
    return {"session_id": session_id, "participant_id": body.participant_id, "role": body.role,
            "seq": seq, "participants": rules.participants_view(room)}


@router.get("/sessions/{session_id}/participants")
async def participants(deps: Deps, session_id: SessionId, principal: Reader) -> dict[str, Any]:
    """Who is in the room, by participant id."""
    room = await _stored_room(deps, principal.tenant, session_id)
    return {"session_id": session_id, "participants": rules.participants_view(room)}


@router.delete("/sessions/{session_id}/participants/{participant_id}")
async def leave(deps: Deps, session_id: SessionId, participant_id: ParticipantId, principal: Writer,
                actor: Annotated[ParticipantId | None, Query(description="who asks (default: the "
                                                              "participant; others: an owner)")] = None,
                reason: Annotated[str | None, Query(max_length=500)] = None) -> dict[str, Any]:
    """Leave the room, or remove someone (owners); the locks held end with it."""
    command = rules.Leave(participant_id, actor=actor, admin=has_scope(principal, "admin"), reason=reason)
    room, seq = await _run(deps, principal, session_id, command)
    return {"session_id": session_id, "participant_id": participant_id, "left": seq is not None,
            "seq": seq, "participants": rules.participants_view(room)}


def _lease(session_id: str, scope: str, room: Room | None, seq: int | None) -> dict[str, Any]:
    """The lease an acquire or renew left (the room is captured right after its plan)."""
    lease = (room or Room()).locks[scope]
    return {"session_id": session_id, "seq": seq, **rules.lease_view(scope, lease, datetime.now(UTC))}


@router.post("/sessions/{session_id}/locks", responses=LOCKED)
async def acquire(deps: Deps, session_id: SessionId, principal: Writer,
                  body: Annotated[AcquireBody, Body()]) -> dict[str, Any]:
    """Lease a scope (`state` covers all); a new lease gets a strictly greater fencing token."""
    command = rules.Acquire(body.scope, body.participant_id, _ttl(deps, body.ttl_s))
    room, seq = await _run(deps, principal, session_id, command)
    return _lease(session_id, body.scope, room, seq)


@router.post("/sessions/{session_id}/locks/renew")
async def renew(deps: Deps, session_id: SessionId, principal: Writer,
                body: Annotated[RenewBody, Body()]) -> dict[str, Any]:
    """Extend a live lease, proven by its token (an expired or taken-over one is a 409)."""
    command = rules.Renew(body.scope, body.participant_id, body.token, _ttl(deps, body.ttl_s))
    room, seq = await _run(deps, principal, session_id, command)
    return _lease(session_id, body.scope, room, seq)


@router.delete("/sessions/{session_id}/locks")
async def release(deps: Deps, session_id: SessionId, principal: Writer,
                  scope: Annotated[LockScope, Query()], participant_id: Annotated[ParticipantId, Query()],
                  token: Annotated[int, Query(ge=1, le=MAX_INT64)]) -> dict[str, Any]:
    """End a lease, proven by its token; releasing what is not held changes nothing."""
    _, seq = await _run(deps, principal, session_id, rules.Release(scope, participant_id, token))
    return {"session_id": session_id, "scope": scope, "participant_id": participant_id, "token": token,
            "released": seq is not None, "seq": seq}


@router.get("/sessions/{session_id}/locks")
async def locks(deps: Deps, session_id: SessionId, principal: Reader) -> dict[str, Any]:
    """The leases held, each with whether it is still live; `lock_token` is the last token issued."""
    room = await _stored_room(deps, principal.tenant, session_id)
    return {"session_id": session_id, "lock_token": room.lock_token if room else 0,
            "locks": rules.locks_view(room, datetime.now(UTC))}
