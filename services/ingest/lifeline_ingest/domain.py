"""Pure append planning: dedupe, gapless seq, optimistic concurrency.

Given what the log already holds for a session (its last seq and the rows matching
the incoming turn and event ids), decide which incoming events are new, which are
duplicates of what, and which seq each new one gets. No I/O: the store feeds it rows
read just before, and writes what it returns in one statement that the log's constraints
guard (a plan built on a stale read is refused there and re-planned).

A session with a room (room.py) is guarded here too: a room command becomes the events
it decides, a plain append is checked against the room, and every collaboration event
planned is folded into `cursor.room`, which the same statement stores. A branch takes
nothing before its own `session.branched` (`guard_branch_start`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from lifeline_events import (
    COLLABORATION_TYPES,
    Event,
    NewEvent,
    Room,
    SessionState,
    TurnRecorded,
    apply,
    score_turn,
)
from lifeline_events.evolve_acts import changed
from lifeline_events.fast_decode import trusted_event
from lifeline_ingest import room as rules
from lifeline_ingest.branching import branched_event_id
from lifeline_ingest.errors import AppendRejectedError, BranchPendingError, SeqConflictError
from lifeline_ingest.room_guard import check_append


@dataclass(frozen=True)
class Known:
    """An event already in the log (or earlier in the same batch)."""

    seq: int
    event_id: UUID
    tenant_id: str = ""
    session_id: str = ""


@dataclass
class SessionCursor:
    """The log's state for one session as the planner sees it, updated as it plans."""

    tenant_id: str
    session_id: str
    last_seq: int
    by_turn: dict[int, Known] = field(default_factory=dict)
    by_event: dict[UUID, Known] = field(default_factory=dict)
    room: Room | None = None
    room_changed: bool = False
    branched_at: int | None = None
    """A branch's `from_seq` (None: no branch). While `last_seq` is still there, the
    branch's `session.branched` is not logged yet (see `guard_branch_start`)."""
    stored: bool = False
    """Whether the session's row existed when read. A plan for a session read as absent
    creates its row and fails if the row appeared meanwhile: a branch's own rows start
    above its `from_seq`, so the log's keys alone would not refuse such a plan."""


@dataclass(frozen=True)
class Outcome:
    """One event's answer: its seq, and whether it was already in the log."""

    event_id: UUID
    seq: int
    duplicate: bool


def _find_duplicate(cursor: SessionCursor, event: NewEvent, event_id: UUID | None) -> Known | None:
    if event.turn_id is not None and (known := cursor.by_turn.get(event.turn_id)):
        return known
    if event_id is not None and (known := cursor.by_event.get(event_id)):
        if (known.tenant_id, known.session_id) not in (("", ""), (cursor.tenant_id, cursor.session_id)):
            raise AppendRejectedError("Event id in use", f"event_id {event_id} belongs to another session",
                                      event_id=str(event_id))
        return known
    return None


def guard_branch_start(cursor: SessionCursor, events: Sequence[NewEvent]) -> None:
    """Refuse a batch to a branch whose `session.branched` is not logged yet, unless the
    batch starts with that event (the branch's own: its fixed id).

    Creating a branch writes its rows at `last_seq = from_seq`, then appends the event;
    checked here, where seq is assigned, no append arriving in between takes
    `from_seq + 1`, whichever ingest process plans it. A session that is no branch pays
    one comparison."""
    if cursor.branched_at is None or cursor.last_seq != cursor.branched_at:
        return
    first = events[0] if events else None
    if first is None or first.event_type != "session.branched" or (
            first.event_id != branched_event_id(cursor.tenant_id, cursor.session_id)):
        raise BranchPendingError(cursor.session_id, cursor.branched_at)


def _scored(payload: object) -> object:
    """Turns get their salience at ingest, so every projection folds the same score."""
    if isinstance(payload, TurnRecorded) and payload.salience is None:
        return changed(payload, {"salience": score_turn(payload)})  # model_copy, cheaper
    return payload


def plan_append(
    cursor: SessionCursor,
    events: Sequence[NewEvent],
    *,
    expected_seq: int | None,
    now: datetime,
    new_id: Callable[[], UUID],
    traceparent: str | None = None,
    writer: str | None = None,
    lock_token: int | None = None,
    command: rules.RoomCommand | None = None,
) -> tuple[list[Event], list[Outcome]]:
    """Plan one request; return the rows to insert and an outcome per event.

    A request whose events are all duplicates is a retry and is answered as the
    original was, even when `expected_seq` no longer matches. A room `command` plans
    the events the room's rules decide instead of `events`; a plain append to a session
    with a room is checked by them (`writer`: default the events' person). A branch
    takes nothing before its `session.branched` (`guard_branch_start`).
    """
    guard_branch_start(cursor, events if command is None else ())
    if command is not None:
        events = rules.decide(command, cursor.room, now)
    duplicates = [_find_duplicate(cursor, e, e.event_id) for e in events]
    if expected_seq is not None and expected_seq != cursor.last_seq and not all(duplicates):
        raise SeqConflictError(expected_seq, cursor.last_seq)
    if cursor.room is not None and command is None:
        _check_room(cursor.room, events, duplicates, writer, lock_token, now)
    rows: list[Event] = []
    outcomes: list[Outcome] = []
    for event in events:
        known = _find_duplicate(cursor, event, event.event_id)
        if known is not None:
            outcomes.append(Outcome(known.event_id, known.seq, True))
            continue
        cursor.last_seq += 1
        event_id = event.event_id or new_id()
        # Every field is already validated (NewEvent) or ingest's own: construct, don't
        # re-validate — validation was a tenth of the append path's CPU. A NewEvent's
        # fields are scalars but its payload, so its __dict__ is its model_dump.
        row = trusted_event({
            **event.__dict__,
            "payload": _scored(event.payload),
            "event_id": event_id,
            "tenant_id": cursor.tenant_id,
            "session_id": cursor.session_id,
            "seq": cursor.last_seq,
            "occurred_at": event.occurred_at or now,
            "recorded_at": now,
            "traceparent": event.traceparent or traceparent,
        })
        rows.append(row)
        known = Known(row.seq, event_id, cursor.tenant_id, cursor.session_id)
        cursor.by_event[event_id] = known
        if event.turn_id is not None:
            cursor.by_turn[event.turn_id] = known
        outcomes.append(Outcome(event_id, row.seq, False))
    _fold_room(cursor, rows)
    return rows, outcomes


def _check_room(room: Room, events: Sequence[NewEvent], duplicates: Sequence[Known | None],
                writer: str | None, lock_token: int | None, now: datetime) -> None:
    """The room's rules for the new events of a plain append (retries pass as before)."""
    fresh = [(i, e) for i, (e, known) in enumerate(zip(events, duplicates, strict=True)) if known is None]
    if fresh:
        writer = writer or next((e.person_id for e in events if e.person_id), None)
        check_append(room, writer, fresh, lock_token, now)


def _fold_room(cursor: SessionCursor, rows: Sequence[Event]) -> None:
    """Fold the planned collaboration events into the cursor's room, as replay will."""
    for row in rows:
        if row.event_type in COLLABORATION_TYPES:
            state = apply(SessionState(room=cursor.room), row)
            if state.room is not cursor.room:
                cursor.room, cursor.room_changed = state.room, True
