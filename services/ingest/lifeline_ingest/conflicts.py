"""The conflict strategies: what becomes of a batch prepared against an older `expected_seq`.

Pure. The committer hands over the batch, the events logged since its `expected_seq`
and the room's roles; `decide` answers with one verdict:

- `append`: the events to log, maybe with acts removed (`provider_priority`);
- `refuse`: nothing is written; `conflicts` names every conflicting scope and its current
  value (`reject`, `automatic_merge`);
- `park`: the batch waits in a `session.conflict.opened` (`user_choice`, `manual_merge`).

Scopes are `act_scope`'s (`stage`, `fact:<key>`, `objective:<id>`, `pin:<id>`); a
scope conflicts when the batch changes it and an event since `expected_seq` changed it
too. Acts without a scope (flags, episodes, counters) accumulate and never conflict. A
`session.restored` since `expected_seq` replaced every scope, so it conflicts with all
the batch touches; a stale batch that itself carries a restore cannot be merged and is
refused unless the strategy is `latest_wins`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID, uuid5

import orjson
from pydantic import BaseModel, JsonValue

from lifeline_events import (
    ConfirmFactAct,
    ConflictResolved,
    Event,
    FlagAct,
    NewEvent,
    PinAct,
    SessionRestored,
    SessionStarted,
    SetObjectiveAct,
    SetStageAct,
    TurnRecorded,
    act_scope,
)

Verdict = Literal["append", "refuse", "park"]
PARKING = frozenset({"user_choice", "manual_merge"})
MAX_PARKED_EVENTS = 100
"""`session.conflict.opened` carries at most this many parked events."""
DROPPED_FLAG = "conflict_dropped"
_ID_NAMESPACE = UUID("5b0f3c1e-8a52-4c57-9d1e-2f6f0e6c1a12")


@dataclass(frozen=True)
class Change:
    """The latest write to one scope since `expected_seq`: its value, where, and by whom."""

    value: JsonValue
    seq: int
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Since:
    """What the log changed after a batch's `expected_seq`."""

    changes: dict[str, Change] = field(default_factory=dict)
    restored: Change | None = None


@dataclass(frozen=True)
class Dropped:
    """An act of the batch that lost its scope to a higher-ranked source."""

    event_index: int
    scope: str
    act: dict[str, Any]
    kept_seq: int

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "act": self.act, "kept_seq": self.kept_seq}


@dataclass(frozen=True)
class Decision:
    """`decide`'s answer; `conflicts` maps each conflicting scope to its current value."""

    verdict: Verdict
    events: tuple[NewEvent, ...]
    conflicts: dict[str, JsonValue] = field(default_factory=dict)
    dropped: tuple[Dropped, ...] = ()


def strategy_for(requested: str | None, session: str | None, default: str) -> str:
    """The request's `on_conflict`, else the session's policy, else the setting."""
    return requested or session or default


def scope_value(act: object) -> JsonValue:
    """The value a scoped act leaves behind (null: the scope is now empty)."""
    match act:
        case SetStageAct(stage=stage):
            return stage
        case ConfirmFactAct(value=value):
            return value
        case SetObjectiveAct(text=text, priority=priority):
            return {"text": text, "priority": priority}
        case PinAct(text=text):
            return text
    return None  # retract_fact, complete_objective, unpin


def provider_of(model_id: str) -> str | None:
    """`openai` of `openai/gpt-4o` or `openai:gpt-4o`; None for a bare model id."""
    for sep in ("/", ":"):
        if sep in model_id:
            return model_id.split(sep, 1)[0]
    return None


def sources(writer: str | None, roles: Mapping[str, str], model_id: str | None) -> tuple[str, ...]:
    """Every name a priority list may rank a write by: role, writer, model, provider."""
    names = [roles.get(writer) if writer else None, writer, model_id,
             provider_of(model_id) if model_id else None]
    return tuple(n for n in names if n)


def rank(names: Sequence[str], priority: Sequence[str]) -> int:
    """Position of the best-ranked name in `priority` (lower wins); unranked is last."""
    return min((priority.index(n) for n in names if n in priority), default=len(priority))


def _scoped_acts(payload: object) -> list[tuple[str, BaseModel]]:
    acts = payload.acts if isinstance(payload, TurnRecorded | ConflictResolved) else []
    found: list[tuple[str, BaseModel]] = [
        (scope, act) for act in acts if (scope := act_scope(act)) is not None]
    if isinstance(payload, SessionStarted) and payload.initial_stage:
        found.append(("stage", SetStageAct(stage=payload.initial_stage)))
    return found


def changes_since(events: Sequence[Event], roles: Mapping[str, str]) -> Since:
    """The latest write to every scope in `events` (any order; later seqs win)."""
    changes: dict[str, Change] = {}
    restored: Change | None = None
    for event in sorted(events, key=lambda e: e.seq):
        payload = event.payload
        writer = payload.resolved_by if isinstance(payload, ConflictResolved) else event.person_id
        model = payload.model_id if isinstance(payload, TurnRecorded) else None
        names = sources(writer, roles, model)
        if isinstance(payload, SessionRestored):
            restored, changes = Change(None, event.seq, names), {}
        for scope, act in _scoped_acts(payload):
            changes[scope] = Change(scope_value(act), event.seq, names)
    return Since(changes, restored)


def batch_scopes(events: Sequence[NewEvent]) -> set[str]:
    """Every scope the batch's events change."""
    return {scope for e in events for scope, _ in _scoped_acts(e.payload)}


def _conflicts(events: Sequence[NewEvent], since: Since) -> dict[str, Change]:
    touched = batch_scopes(events)
    found = {s: c for s, c in since.changes.items() if s in touched}
    if since.restored is not None:
        found = {s: found.get(s, since.restored) for s in touched}
    return dict(sorted(found.items()))


def decide(strategy: str, events: Sequence[NewEvent], since: Since, *, writer: str | None = None,
           roles: Mapping[str, str] | None = None, priority: Sequence[str] = ()) -> Decision:
    """What to do with a stale batch under `strategy` (see the module docstring)."""
    batch = tuple(events)
    if strategy == "latest_wins":
        return Decision("append", batch)
    conflicts = _conflicts(batch, since)
    current = {s: c.value for s, c in conflicts.items()}
    if strategy == "reject":  # any stale batch, conflicting or not (the historical 409)
        return Decision("refuse", batch, current)
    carries_restore = any(isinstance(e.payload, SessionRestored) for e in batch)
    if not conflicts and not (carries_restore and (since.changes or since.restored)):
        return Decision("append", batch)
    if strategy in PARKING and not carries_restore:
        return Decision("park", batch, current)
    if strategy == "provider_priority" and not carries_restore:
        return _by_priority(batch, conflicts, writer, roles or {}, priority)
    return Decision("refuse", batch, current)


def _by_priority(batch: tuple[NewEvent, ...], conflicts: Mapping[str, Change], writer: str | None,
                 roles: Mapping[str, str], priority: Sequence[str]) -> Decision:
    """Per conflicting scope the better-ranked source keeps it; ties go to the later write
    (the batch), as `latest_wins` would. Losing acts leave the batch; a flag records them."""
    kept: list[NewEvent] = []
    dropped: list[Dropped] = []
    for i, event in enumerate(batch):
        payload = event.payload
        if not isinstance(payload, TurnRecorded | SessionStarted):
            kept.append(event)
            continue
        ours = rank(sources(writer or event.person_id, roles,
                            payload.model_id if isinstance(payload, TurnRecorded) else None), priority)
        lost = [(scope, act) for scope, act in _scoped_acts(payload)
                if scope in conflicts and rank(conflicts[scope].sources, priority) < ours]
        dropped += [Dropped(i, s, a.model_dump(mode="json"), conflicts[s].seq) for s, a in lost]
        kept.append(_without(event, [a for _, a in lost]) if lost else event)
    current = {s: c.value for s, c in conflicts.items()}
    return Decision("append", tuple(kept), current, tuple(dropped))


def _without(event: NewEvent, lost: Sequence[BaseModel]) -> NewEvent:
    """The event with `lost` acts removed and a `conflict_dropped` flag naming them."""
    payload = event.payload
    if isinstance(payload, SessionStarted):
        return event.model_copy(update={"payload": payload.model_copy(update={"initial_stage": None})})
    assert isinstance(payload, TurnRecorded)
    gone = {id(a) for a in lost}  # the very act objects of this payload
    scopes = ", ".join(str(act_scope(a)) for a in lost)
    flag = FlagAct(name=DROPPED_FLAG, detail=f"provider_priority dropped: {scopes}"[:500])
    acts = [a for a in payload.acts if id(a) not in gone] + [flag]
    return event.model_copy(update={"payload": payload.model_copy(update={"acts": acts})})


def conflict_id(tenant: str, session: str, expected_seq: int, events: Sequence[NewEvent]) -> str:
    """Deterministic from the batch, so a retried batch parks as the same conflict."""
    body = orjson.dumps([tenant, session, expected_seq,
                         [e.model_dump(mode="json", exclude={"traceparent"}) for e in events]],
                        option=orjson.OPT_SORT_KEYS)
    return "c-" + hashlib.sha256(body).hexdigest()[:24]


def conflict_event_id(tenant: str, session: str, cid: str, what: Literal["opened", "resolved"]) -> UUID:
    """The event id of a conflict's opening or resolution: a second one is a duplicate."""
    return uuid5(_ID_NAMESPACE, f"{tenant}/{session}/{cid}/{what}")
