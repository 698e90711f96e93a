"""Pure checks of a write against a session's room: who may write, and what is locked.

The append side of room.py's rules, shared with its commands: an append in a room must come
from a participant who is not a viewer (403), touch no scope under another participant's
live lease (423), and carry, if any, the fencing token of the writer's live lease (409).
The refusals name the participant, scope, holder and field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lifeline_events import (
    STATE_SCOPE,
    ConflictResolved,
    Lease,
    NewEvent,
    Room,
    SessionRestored,
    SessionStarted,
    TurnRecorded,
    act_scope,
    scope_covers,
)
from lifeline_ingest.errors import RoomConflictError, RoomForbiddenError, ScopeLockedError

VIEWER = "viewer"


def live(lease: Lease, now: datetime) -> bool:
    return lease.expires_at > now


def overlaps(a: str, b: str) -> bool:
    return scope_covers(a, b) or scope_covers(b, a)


def check_append(room: Room, writer: str | None, events: Iterable[tuple[int, NewEvent]],
                 lock_token: int | None, now: datetime) -> None:
    """Refuse a plain append the room does not allow; `events` are (index in batch, event)."""
    if not room.participants:
        return
    participant = room.participants.get(writer) if writer is not None else None
    if participant is None:
        raise not_participant(writer)
    if participant.role == VIEWER or writer is None:
        raise forbidden("Viewers may not write", writer, f"{writer} is a viewer; viewers read, they "
                         "do not append", field="participant_id", role=VIEWER)
    scopes = touched(events)
    if lock_token is not None:
        _check_token(room, writer, lock_token, [s for _, s in scopes], now)
    for field, scope in scopes:
        for lock_scope, lease in room.locks.items():
            if lease.participant_id != writer and live(lease, now) and overlaps(lock_scope, scope):
                raise locked(lock_scope, lease, scope, field=field)


def _check_token(room: Room, writer: str, token: int, scopes: list[str], now: datetime) -> None:
    """The token must be a live lease of the writer's; the refusal names who holds what now."""
    held = next(((s, lease) for s, lease in room.locks.items() if lease.token == token), None)
    if held is not None and held[1].participant_id == writer and live(held[1], now):
        return
    scope = held[0] if held else next((s for s in room.locks for t in scopes if overlaps(s, t)), None)
    raise stale_token(token, scope, room.locks.get(scope) if scope else None, field="lock_token")


def touched(events: Iterable[tuple[int, NewEvent]]) -> list[tuple[str, str]]:
    """(field, scope) for every scope the events change; a restore changes all of them."""
    found: list[tuple[str, str]] = []
    for i, event in events:
        payload = event.payload
        if isinstance(payload, TurnRecorded | ConflictResolved):  # a resolution applies its acts
            found += [(f"events.{i}.payload.acts.{j}", scope) for j, act in enumerate(payload.acts)
                      if (scope := act_scope(act)) is not None]
        elif isinstance(payload, SessionRestored):
            found.append((f"events.{i}", STATE_SCOPE))
        elif isinstance(payload, SessionStarted) and payload.initial_stage:
            found.append((f"events.{i}.payload.initial_stage", "stage"))
    return found


def forbidden(title: str, pid: str | None, detail: str, **extra: Any) -> RoomForbiddenError:
    return RoomForbiddenError(title, detail, participant_id=pid, **extra)


def not_participant(pid: str | None) -> RoomForbiddenError:
    who = pid or "an anonymous writer (no participant_id, no person_id)"
    return forbidden("Not a participant", pid, f"{who} is not a participant of this session's room; "
                      "join it first (POST /v1/sessions/{id}/participants)", field="participant_id")


def locked(lock_scope: str, lease: Lease, wanted: str, *, field: str) -> ScopeLockedError:
    """423 naming the held scope, its holder and when the lease ends."""
    return ScopeLockedError("Scope locked", f"{wanted} is covered by the lock on {lock_scope} held by "
                            f"{lease.participant_id} until {lease.expires_at.isoformat()}",
                            scope=lock_scope, requested_scope=wanted, holder=lease.participant_id,
                            expires_at=lease.expires_at.isoformat(), field=field)


def stale_token(token: int, scope: str | None, lease: Lease | None, *, field: str) -> RoomConflictError:
    """409: the token is not the live lease's (it expired, was released or taken over)."""
    now_held = (f"; {scope} is now held by {lease.participant_id} with token {lease.token}"
                if scope and lease else "; no lease with it is held")
    return RoomConflictError("Stale fencing token", f"fencing token {token} is stale{now_held}",
                             token=token, scope=scope, holder=lease.participant_id if lease else None,
                             current_token=lease.token if lease else None, field=field)
