"""Conflicts over HTTP: a session's conflict policy, its open conflicts, and their resolution.

Every change is an event handed to the group committer (`session.policy.set`,
`session.conflict.resolved`), so it replays; the committer admits a resolution only while
its conflict is open (conflict_commit.py), so two racing resolutions cannot both apply.
Reads come from the room stored beside the session. As for the room's routes, a
participant id is what the caller says it is; API keys are what is authenticated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field, StringConstraints

from lifeline_events import (
    Act,
    ConflictResolved,
    ConflictStrategy,
    NewEvent,
    OpenConflict,
    Room,
    SessionPolicySet,
)
from lifeline_ingest import conflicts, conflicts_store, store
from lifeline_ingest.api_room import ParticipantId, Reader, Writer
from lifeline_ingest.committer import AppendRequest
from lifeline_ingest.deps import Deps
from lifeline_servicekit import (
    Principal,
    ProblemError,
    SessionId,
    has_scope,
    session_not_found,
)
from lifeline_telemetry import current_traceparent

router = APIRouter(prefix="/v1", tags=["conflicts"])
PriorityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
_LOCKED: dict[int | str, dict[str, Any]] = {423: {"description": "Locked"}}


class PolicyBody(BaseModel):
    conflict_strategy: ConflictStrategy | None = Field(
        None, description="for stale batches without `on_conflict` (null: LIFELINE_CONFLICT_STRATEGY)")
    provider_priority: list[PriorityName] = Field(
        default_factory=list, max_length=64,
        description="highest first: room roles, participant ids, model ids or providers")
    participant_id: ParticipantId | None = Field(
        None, description="who sets it; in a room with participants, an owner (or an admin key)")


class ResolveBody(BaseModel):
    choice: Literal["ours", "theirs", "merged"]
    participant_id: ParticipantId | None = Field(
        None, description="who resolves (default: the parked batch's writer)")
    acts: list[Act] = Field(default_factory=list, max_length=256,
                            description="`merged` only: the acts that settle the conflicting scopes")


def _is_owner(room: Room | None, pid: str | None) -> bool:
    participant = room.participants.get(pid) if room is not None and pid is not None else None
    return participant is not None and participant.role == "owner"


async def _room(deps: Deps, tenant: str, session_id: str) -> Room | None:
    exists, room = await store.read_room(deps.pool, tenant, session_id)
    if not exists:
        raise session_not_found(session_id)
    return room


def _own_event(event_type: str, payload: Any, **envelope: Any) -> NewEvent:
    # ingest's own payload, validated by its model: construct, as the committer does for rows
    return NewEvent.model_construct(event_type=event_type, payload=payload, **envelope)


def _policy_view(deps: Deps, session_id: str, room: Room | None) -> dict[str, Any]:
    policy = room.policy if room is not None else None
    own = policy.conflict_strategy if policy else None
    return {"session_id": session_id,
            "conflict_strategy": own or deps.settings.conflict_strategy,
            "source": "session" if own else "setting",
            "provider_priority": list(policy.provider_priority if policy and policy.provider_priority
                                      else deps.settings.conflict_provider_priority)}


@router.put("/sessions/{session_id}/policy")
async def set_policy(deps: Deps, session_id: SessionId, principal: Writer,
                     body: Annotated[PolicyBody, Body()]) -> dict[str, Any]:
    """Set the session's conflict strategy and provider priority (replaces the previous policy)."""
    _, room = await store.read_room(deps.pool, principal.tenant, session_id)
    if room is not None and room.participants and not (
            has_scope(principal, "admin") or _is_owner(room, body.participant_id)):
        raise ProblemError(403, "Only an owner may set the policy",
                           f"{body.participant_id or 'an unnamed caller'} is not an owner of this room",
                           field="participant_id", participant_id=body.participant_id)
    payload = SessionPolicySet(conflict_strategy=body.conflict_strategy,
                               provider_priority=body.provider_priority, set_by=body.participant_id)
    request = AppendRequest(principal.tenant, session_id,
                            [_own_event("session.policy.set", payload, person_id=body.participant_id)],
                            traceparent=current_traceparent(), source="conflicts",
                            participant_id=body.participant_id)
    outcomes = await deps.committer.append(request)
    return {**_policy_view(deps, session_id, request.room), "seq": outcomes[0].seq}


@router.get("/sessions/{session_id}/policy")
async def get_policy(deps: Deps, session_id: SessionId, principal: Reader) -> dict[str, Any]:
    """The strategy a stale batch without `on_conflict` gets, and where it comes from."""
    return _policy_view(deps, session_id, await _room(deps, principal.tenant, session_id))


def _conflict_view(c: OpenConflict, opened: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"conflict_id": c.conflict_id, "strategy": c.strategy,
                            "participant_id": c.participant_id, "scopes": list(c.scopes), "seq": c.seq}
    if opened is not None:
        view |= {"expected_seq": opened.expected_seq, "theirs": opened.theirs, "ours": opened.ours}
    return view


@router.get("/sessions/{session_id}/conflicts")
async def open_conflicts(deps: Deps, session_id: SessionId, principal: Reader) -> dict[str, Any]:
    """Open conflicts, oldest first, each with both sides: the parked batch (`ours`) and the
    current value of every conflicting scope when it was parked (`theirs`)."""
    room = await _room(deps, principal.tenant, session_id)
    found = sorted(room.open_conflicts if room else (), key=lambda c: c.seq)
    opened = await conflicts_store.read_opened(deps.pool, principal.tenant, session_id,
                                               [c.seq for c in found])
    return {"session_id": session_id, "conflicts": [_conflict_view(c, opened.get(c.seq)) for c in found]}


def _may_resolve(principal: Principal, room: Room | None, conflict: OpenConflict,
                 resolver: str | None) -> None:
    if has_scope(principal, "admin") or _is_owner(room, resolver):
        return
    if conflict.strategy == "manual_merge":
        raise ProblemError(403, "Only an owner may resolve", f"conflict {conflict.conflict_id} is "
                           "manual_merge: an owner of the room (or an admin key) resolves it",
                           field="participant_id", participant_id=resolver)
    if resolver is None or resolver != conflict.participant_id:
        raise ProblemError(403, "Only the writer or an owner may resolve",
                           f"conflict {conflict.conflict_id} is user_choice: its writer "
                           f"({conflict.participant_id}) or an owner resolves it",
                           field="participant_id", participant_id=resolver)


async def _parked(deps: Deps, tenant: str, session_id: str, conflict: OpenConflict) -> list[NewEvent]:
    opened = await conflicts_store.read_opened(deps.pool, tenant, session_id, [conflict.seq])
    if conflict.seq not in opened:
        raise ProblemError(409, "Parked batch not found", f"the log holds no session.conflict.opened at "
                           f"seq {conflict.seq} for conflict {conflict.conflict_id}",
                           conflict_id=conflict.conflict_id)
    return [NewEvent.model_validate(e) for e in opened[conflict.seq].ours]


@router.post("/sessions/{session_id}/conflicts/{conflict_id}/resolve", responses=_LOCKED)
async def resolve(deps: Deps, session_id: SessionId, conflict_id: Annotated[str, StringConstraints(
                      min_length=1, max_length=128)], principal: Writer,
                  body: Annotated[ResolveBody, Body()]) -> dict[str, Any]:
    """Decide an open conflict: `ours` appends the parked batch after the resolution, `theirs`
    keeps the log as it is, `merged` applies `acts`. user_choice: the writer or an owner;
    manual_merge: an owner (or an admin key)."""
    if body.acts and body.choice != "merged":
        raise ProblemError(422, "Invalid request", "acts: only a merged resolution carries acts",
                           errors=[{"field": "acts", "msg": "only with choice merged"}])
    tenant = principal.tenant
    room = await _room(deps, tenant, session_id)
    conflict = next((c for c in (room.open_conflicts if room else ()) if c.conflict_id == conflict_id), None)
    if conflict is None:
        raise ProblemError(404, "No open conflict", f"session {session_id} has no open conflict "
                           f"{conflict_id}", conflict_id=conflict_id)
    resolver = body.participant_id or conflict.participant_id
    _may_resolve(principal, room, conflict, resolver)
    resolution = _own_event(
        "session.conflict.resolved",
        ConflictResolved(conflict_id=conflict_id, choice=body.choice, resolved_by=resolver or "admin",
                         acts=body.acts),
        event_id=conflicts.conflict_event_id(tenant, session_id, conflict_id, "resolved"),
        person_id=resolver)
    ours = await _parked(deps, tenant, session_id, conflict) if body.choice == "ours" else []
    writer = conflict.participant_id if body.choice == "ours" else resolver
    request = AppendRequest(tenant, session_id, [resolution, *ours], traceparent=current_traceparent(),
                            source="conflicts", participant_id=writer)
    outcomes = await deps.committer.append(request)
    if outcomes[0].duplicate:  # another resolution was logged first
        raise ProblemError(409, "Conflict already resolved", f"conflict {conflict_id} was resolved at seq "
                           f"{outcomes[0].seq} before this request", conflict_id=conflict_id,
                           seq=outcomes[0].seq)
    return {"session_id": session_id, "conflict_id": conflict_id, "choice": body.choice,
            "resolved_by": resolver, "seq": outcomes[0].seq,
            "results": [{"event_id": str(o.event_id), "seq": o.seq, "duplicate": o.duplicate}
                        for o in outcomes]}
