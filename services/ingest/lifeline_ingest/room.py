"""Pure rules of a session's room: who may join, leave, lock, and write.

Evaluated at plan time against the room as the log last left it (`SessionCursor.room`)
and the committer's clock. The events a command decides take seqs in the same statement
that advances the session and stores the new room, so a decision made on a stale room is
refused by the log's primary key and made again (store.py): two ingest processes cannot
both hand out one lock. No I/O here.

Rules (docs/architecture.md, "Rooms and fencing"):
- A session without a room, or whose room is empty, takes appends from anyone, as before.
- A room starts with its owner: the first participant joins as `owner`. Joining as
  `editor` or `viewer` is open to any caller with the `ingest` scope; joining as owner,
  changing a role or removing someone else takes an owner (or an `admin` key). A room
  always keeps an owner while others are in it. At most `max_participants`.
- Locks: a participant (not a viewer) leases a scope; `state` overlaps every scope. A
  live lease of another participant on an overlapping scope refuses (423); expired ones
  are released (`reason: "expired"`) and the new lease gets `room.lock_token + 1`, so
  fencing tokens strictly increase for the session's whole life, restarts included.
- Writes: in a room, the writer must be a participant and not a viewer (403); acts
  touching a scope another participant holds a live lease on are refused (423); a
  `lock_token` must be the writer's live lease's (409 "stale fencing token" otherwise).
  Those checks, and the refusals both sides share, are room_guard.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from lifeline_events import (
    Lease,
    LockAcquired,
    LockReleased,
    NewEvent,
    ParticipantJoined,
    ParticipantLeft,
    Room,
)
from lifeline_ingest.errors import RoomConflictError
from lifeline_ingest.room_guard import forbidden, live, locked, not_participant, overlaps, stale_token

OWNER, VIEWER = "owner", "viewer"


@dataclass(frozen=True)
class Join:
    """Enter the room as `role`, or change an existing participant's role."""

    participant_id: str
    role: str
    actor: str | None = None
    admin: bool = False
    max_participants: int = 50


@dataclass(frozen=True)
class Leave:
    """Leave the room (or, by an owner, remove `participant_id`); its locks end with it."""

    participant_id: str
    actor: str | None = None
    admin: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Acquire:
    """Lease `scope` for `ttl_s` seconds (the holder's own live lease is renewed)."""

    scope: str
    participant_id: str
    ttl_s: float


@dataclass(frozen=True)
class Renew:
    """Extend the caller's live lease on `scope`, proving it with its token."""

    scope: str
    participant_id: str
    token: int
    ttl_s: float


@dataclass(frozen=True)
class Release:
    """End the caller's lease on `scope` (a no-op when nothing is held there)."""

    scope: str
    participant_id: str
    token: int


RoomCommand = Join | Leave | Acquire | Renew | Release
RoomPayload = ParticipantJoined | ParticipantLeft | LockAcquired | LockReleased
_TYPES: dict[type[BaseModel], str] = {ParticipantJoined: "participant.joined",
                                      ParticipantLeft: "participant.left",
                                      LockAcquired: "lock.acquired", LockReleased: "lock.released"}


def _event(payload: RoomPayload) -> NewEvent:
    # ingest's own payloads, already validated: construct, as plan_append does for rows
    return NewEvent.model_construct(event_type=_TYPES[type(payload)], payload=payload)


def decide(command: RoomCommand, room: Room | None, now: datetime) -> list[NewEvent]:
    """The room events `command` appends, or a refusal naming why (nothing appended)."""
    room = room if room is not None else Room()
    match command:
        case Join():
            payloads = _join(command, room)
        case Leave():
            payloads = _leave(command, room)
        case Acquire():
            payloads = _acquire(command, room, now)
        case Renew():
            payloads = _renew(command, room, now)
        case Release():
            payloads = _release(command, room)
    return [_event(p) for p in payloads]


def _is_owner(room: Room, actor: str | None, admin: bool) -> bool:
    return admin or (actor is not None and getattr(room.participants.get(actor), "role", None) == OWNER)


def _keeps_an_owner(room: Room, without: str) -> bool:
    """Whether the room still has an owner (or nobody at all) once `without` stops being one."""
    rest = {pid: p for pid, p in room.participants.items() if pid != without}
    return not rest or any(p.role == OWNER for p in rest.values())


def _last_owner(pid: str) -> RoomConflictError:
    return RoomConflictError("A room keeps an owner", f"{pid} is the room's last owner; make another "
                             "participant owner first", participant_id=pid, field="participant_id")


def _join(cmd: Join, room: Room) -> list[RoomPayload]:
    pid, current = cmd.participant_id, room.participants.get(cmd.participant_id)
    if current is not None:
        if current.role == cmd.role:
            return []  # a retried join changes nothing
        if not _is_owner(room, cmd.actor or pid, cmd.admin):
            raise forbidden("Only an owner may change roles", cmd.actor or pid,
                             f"{cmd.actor or pid} is not an owner of this room", field="actor")
        if current.role == OWNER and not _keeps_an_owner(room, pid):
            raise _last_owner(pid)
    elif not room.participants:
        if cmd.role != OWNER:
            raise RoomConflictError("A room starts with its owner", "the first participant of a "
                                    "session's room joins as owner", field="role", role=cmd.role)
    elif len(room.participants) >= cmd.max_participants:
        raise RoomConflictError("Room full", f"the room already has {len(room.participants)} "
                                f"participants (LIFELINE_MAX_PARTICIPANTS={cmd.max_participants})",
                                field="participant_id", limit=cmd.max_participants)
    elif cmd.role == OWNER and not _is_owner(room, cmd.actor, cmd.admin):
        raise forbidden("Only an owner may add an owner", cmd.actor or pid,
                         f"{cmd.actor or pid} is not an owner of this room", field="actor")
    return [ParticipantJoined(participant_id=pid, role=cmd.role)]


def _leave(cmd: Leave, room: Room) -> list[RoomPayload]:
    pid = cmd.participant_id
    if pid not in room.participants:
        return []  # already gone: a retried leave changes nothing
    actor = cmd.actor or pid
    if actor != pid and not _is_owner(room, actor, cmd.admin):
        raise forbidden("Only an owner may remove others", actor,
                         f"{actor} may remove only itself", field="actor")
    if room.participants[pid].role == OWNER and not _keeps_an_owner(room, pid):
        raise _last_owner(pid)
    return [ParticipantLeft(participant_id=pid, reason=cmd.reason)]


def _may_lock(room: Room, pid: str) -> None:
    participant = room.participants.get(pid)
    if participant is None:
        raise not_participant(pid)
    if participant.role == VIEWER:
        raise forbidden("Viewers may not lock", pid, f"{pid} is a viewer; viewers read, they do "
                         "not write or lock", field="participant_id", role=VIEWER)


def _acquire(cmd: Acquire, room: Room, now: datetime) -> list[RoomPayload]:
    _may_lock(room, cmd.participant_id)
    expires = now + timedelta(seconds=cmd.ttl_s)
    released: list[RoomPayload] = []
    token, renewed = room.lock_token + 1, False
    for scope, lease in room.locks.items():
        if not overlaps(scope, cmd.scope):
            continue
        if not live(lease, now):
            released.append(LockReleased(scope=scope, participant_id=lease.participant_id,
                                         token=lease.token, reason="expired"))
        elif lease.participant_id != cmd.participant_id:
            raise locked(scope, lease, cmd.scope, field="scope")
        elif scope == cmd.scope:  # the holder asks again: renewed, same token
            token, renewed = lease.token, True
    return [*released, LockAcquired(scope=cmd.scope, participant_id=cmd.participant_id, token=token,
                                    expires_at=expires, renewed=renewed)]


def _renew(cmd: Renew, room: Room, now: datetime) -> list[RoomPayload]:
    lease = room.locks.get(cmd.scope)
    if lease is None or lease.participant_id != cmd.participant_id or lease.token != cmd.token:
        raise stale_token(cmd.token, cmd.scope, lease, field="token")
    if not live(lease, now):
        raise RoomConflictError("Lease expired", f"the lease on {cmd.scope} expired at "
                                f"{lease.expires_at.isoformat()}; acquire it again (a new token)",
                                scope=cmd.scope, token=cmd.token, field="token",
                                expires_at=lease.expires_at.isoformat())
    return [LockAcquired(scope=cmd.scope, participant_id=lease.participant_id, token=lease.token,
                         expires_at=now + timedelta(seconds=cmd.ttl_s), renewed=True)]


def _release(cmd: Release, room: Room) -> list[RoomPayload]:
    lease = room.locks.get(cmd.scope)
    if lease is None:
        return []  # nothing held: a retried release changes nothing
    if lease.participant_id != cmd.participant_id or lease.token != cmd.token:
        raise stale_token(cmd.token, cmd.scope, lease, field="token")
    return [LockReleased(scope=cmd.scope, participant_id=lease.participant_id, token=lease.token)]


def lease_view(scope: str, lease: Lease, now: datetime) -> dict[str, Any]:
    return {"scope": scope, "participant_id": lease.participant_id, "token": lease.token,
            "expires_at": lease.expires_at.isoformat(), "live": live(lease, now)}


def participants_view(room: Room | None) -> list[dict[str, Any]]:
    if room is None:
        return []
    return [{"participant_id": pid, "role": p.role, "joined_seq": p.joined_seq}
            for pid, p in sorted(room.participants.items())]


def locks_view(room: Room | None, now: datetime) -> list[dict[str, Any]]:
    if room is None:
        return []
    return [lease_view(scope, lease, now) for scope, lease in sorted(room.locks.items())]

