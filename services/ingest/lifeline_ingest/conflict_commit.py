"""The committer's side of the conflict strategies: which requests they touch, and how.

Nothing here runs for a request that is not stale (its `expected_seq` is the session's
last seq, or absent) while the session has no open conflict: the common append pays one
comparison. A stale request under a strategy other than `reject` gets the events logged
since its `expected_seq` (read before planning, bounded by the window), and
`conflicts.decide` says what to plan. Open conflicts (the room's) refuse further writes
to their scopes until resolved; a resolution is planned only while its conflict is open,
so two racing resolutions cannot both apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import ValidationError

from lifeline_events import ConflictOpened, Event, NewEvent, Room
from lifeline_ingest import conflicts
from lifeline_ingest.domain import Outcome, SessionCursor, plan_append
from lifeline_ingest.errors import AppendRejectedError

if TYPE_CHECKING:
    from lifeline_ingest.committer import AppendRequest

Planned = tuple[list[Event], list[Outcome] | BaseException]
RESOLVED = "session.conflict.resolved"


@dataclass(frozen=True)
class ConflictRules:
    """The service's settings for stale batches (see IngestSettings)."""

    default: str = "reject"
    window: int = 10_000
    priority: tuple[str, ...] = ()


@dataclass
class Stale:
    """What the request looked like to the strategies (set on the request when planned)."""

    strategy: str
    dropped: list[dict[str, object]]


def strategy(on_conflict: str | None, room: Room | None, rules: ConflictRules) -> str:
    policy = room.policy if room is not None else None
    return conflicts.strategy_for(on_conflict, policy.conflict_strategy if policy else None, rules.default)


def wants_range(expected_seq: int | None, on_conflict: str | None, cursor: SessionCursor,
                rules: ConflictRules) -> bool:
    """Whether to read the log after `expected_seq` before planning (a mergeable stale batch).

    Also true when `expected_seq` is the logged last seq (the read is then empty, no query):
    an earlier request of the same group commit may still make the batch stale."""
    return (expected_seq is not None and expected_seq <= cursor.last_seq
            and cursor.last_seq - expected_seq <= rules.window
            and strategy(on_conflict, cursor.room, rules) != "reject")


def too_far_behind(expected: int, current: int, window: int) -> AppendRejectedError:
    return AppendRejectedError(
        "Too far behind", f"expected_seq is {expected} but the session is at seq {current}: more than "
        f"{window} events (LIFELINE_CONFLICT_WINDOW_EVENTS) to merge; re-read and re-apply",
        expected_seq=expected, current_seq=current, window=window)


def open_conflict(cid: str, scopes: Sequence[str], strategy: str) -> AppendRejectedError:
    return AppendRejectedError(
        "Open conflict", f"{', '.join(scopes)} wait(s) for the decision on conflict {cid} ({strategy}); "
        f"resolve it first (POST /v1/sessions/{{id}}/conflicts/{cid}/resolve)",
        conflict_id=cid, scopes=list(scopes), strategy=strategy)


def _conflicting(decision: conflicts.Decision, strategy: str, expected: int,
                 current: int) -> AppendRejectedError:
    scopes = ", ".join(decision.conflicts) or "none (reject refuses every stale batch)"
    return AppendRejectedError(
        "Conflicting changes", f"since expected_seq {expected} the session (now at seq {current}) "
        f"changed what this batch changes: {scopes}", strategy=strategy, expected_seq=expected,
        current_seq=current, conflicts=[{"scope": s, "current": v} for s, v in decision.conflicts.items()])


def parked(cid: str, opened: ConflictOpened, seq: int) -> AppendRejectedError:
    return AppendRejectedError(
        "Conflict parked", f"the batch conflicts on {', '.join(opened.scopes)} and waits as conflict {cid} "
        f"(seq {seq}) for a decision ({opened.strategy}): POST /v1/sessions/{{id}}/conflicts/{cid}/resolve",
        conflict_id=cid, strategy=opened.strategy, seq=seq,
        conflicts=[{"scope": s, "current": opened.theirs.get(s)} for s in opened.scopes])


def _duplicate(cursor: SessionCursor, event: NewEvent) -> bool:
    return ((event.turn_id is not None and event.turn_id in cursor.by_turn)
            or (event.event_id is not None and event.event_id in cursor.by_event))


def guard_open(room: Room | None, events: Sequence[NewEvent], cursor: SessionCursor,
               exempt: str | None = None) -> None:
    """Refuse new events touching a scope an open conflict (other than `exempt`) waits on."""
    if room is None or not room.open_conflicts:
        return
    fresh = [e for e in events if not _duplicate(cursor, e)]
    touched = conflicts.batch_scopes(fresh)
    for c in room.open_conflicts:
        if c.conflict_id != exempt and (hit := sorted(touched.intersection(c.scopes))):
            raise open_conflict(c.conflict_id, hit, c.strategy)


def _guard_resolution(request_events: Sequence[NewEvent], cursor: SessionCursor) -> str:
    resolution = request_events[0]
    cid: str = resolution.payload.conflict_id  # type: ignore[union-attr]
    if _duplicate(cursor, resolution) and not all(_duplicate(cursor, e) for e in request_events):
        raise AppendRejectedError("Conflict already resolved", f"conflict {cid} was resolved before",
                                  conflict_id=cid)
    room = cursor.room
    if not _duplicate(cursor, resolution) and not any(
            c.conflict_id == cid for c in (room.open_conflicts if room else ())):
        raise AppendRejectedError("No open conflict", f"conflict {cid} is not open in this session",
                                  conflict_id=cid)
    return cid


@dataclass
class ConflictPlanner:
    """Plans the requests the strategies touch; None from `plan` means: plan as usual."""

    rules: ConflictRules
    new_id: Callable[[], UUID]

    def plan(self, request: AppendRequest, cursor: SessionCursor, logged: list[Event] | None,
             rows: list[Event], now: datetime) -> Planned | None:
        events: Sequence[NewEvent] = request.events
        exempt = _guard_resolution(events, cursor) if events and events[0].event_type == RESOLVED else None
        expected = request.expected_seq
        if expected is None or expected >= cursor.last_seq:
            guard_open(cursor.room, events, cursor, exempt)
            return None
        chosen = strategy(request.on_conflict, cursor.room, self.rules)
        if chosen == "reject" or all(_duplicate(cursor, e) for e in events):
            return None  # the historical 409, or a retry answered as the original was
        if cursor.last_seq - expected > self.rules.window:
            raise too_far_behind(expected, cursor.last_seq, self.rules.window)
        if logged is None:  # a policy changed within this group, or the log cannot serve the
            return None     # whole range (archived): reject's 409, the client re-reads
        since = [*logged, *(r for r in rows if r.session_id == cursor.session_id
                            and r.tenant_id == cursor.tenant_id and r.seq > expected)]
        room = cursor.room
        roles = {pid: p.role for pid, p in room.participants.items()} if room else {}
        priority = (room.policy.provider_priority if room and room.policy and room.policy.provider_priority
                    else self.rules.priority)
        decision = conflicts.decide(chosen, events, conflicts.changes_since(since, roles),
                                    writer=request.participant_id, roles=roles, priority=priority)
        request.stale = Stale(chosen, [{"index": d.event_index, **d.as_json()} for d in decision.dropped])
        if decision.verdict == "refuse":
            raise _conflicting(decision, chosen, expected, cursor.last_seq)
        if decision.verdict == "park":
            return self._park(request, cursor, decision, chosen, now)
        guard_open(room, decision.events, cursor)
        return self._append(request, cursor, decision.events, now)

    def _append(self, request: AppendRequest, cursor: SessionCursor, events: Sequence[NewEvent],
                now: datetime) -> Planned:
        return plan_append(cursor, events, expected_seq=None, now=now, new_id=self.new_id,
                           traceparent=request.traceparent, writer=request.participant_id,
                           lock_token=request.lock_token)

    def _park(self, request: AppendRequest, cursor: SessionCursor, decision: conflicts.Decision,
              chosen: str, now: datetime) -> Planned:
        if len(decision.events) > conflicts.MAX_PARKED_EVENTS:
            raise AppendRejectedError(
                "Batch too large to park", f"{len(decision.events)} events conflict on "
                f"{', '.join(decision.conflicts)}; at most {conflicts.MAX_PARKED_EVENTS} are parked",
                conflicts=[{"scope": s, "current": v} for s, v in decision.conflicts.items()])
        tenant, session, expected = cursor.tenant_id, cursor.session_id, request.expected_seq or 0
        cid = conflicts.conflict_id(tenant, session, expected, decision.events)
        try:
            opened = ConflictOpened(
                conflict_id=cid, strategy=chosen, participant_id=request.participant_id,
                expected_seq=expected, scopes=list(decision.conflicts),
                ours=[e.model_dump(mode="json", exclude_none=True) for e in decision.events],
                theirs=decision.conflicts)
        except ValidationError as exc:  # e.g. more than 256 scopes, a key a lock scope cannot name
            raise AppendRejectedError(
                "Cannot park", f"the conflict on {', '.join(decision.conflicts)} cannot be recorded: "
                f"{exc.errors()[0]['msg']}", conflicts=[{"scope": s, "current": v}
                                                        for s, v in decision.conflicts.items()]) from None
        room = cursor.room
        already = next((c for c in (room.open_conflicts if room else ()) if c.conflict_id == cid), None)
        if already is not None:  # a retry of the parked batch: the same answer, nothing new
            return [], parked(cid, opened, already.seq)
        guard_open(room, decision.events, cursor)
        event = NewEvent.model_construct(  # ingest's own, validated payload: construct
            event_type="session.conflict.opened", payload=opened, tenant_id=tenant, session_id=session,
            event_id=conflicts.conflict_event_id(tenant, session, cid, "opened"))
        planned, outcomes = plan_append(cursor, [event], expected_seq=None, now=now, new_id=self.new_id,
                                        traceparent=request.traceparent, writer=request.participant_id,
                                        lock_token=request.lock_token)
        if outcomes[0].duplicate:
            raise AppendRejectedError("Conflict already resolved", f"this batch was parked as conflict "
                                      f"{cid}, which is resolved; re-read and re-apply", conflict_id=cid)
        return planned, parked(cid, opened, outcomes[0].seq)
