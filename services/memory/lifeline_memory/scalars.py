"""A session's running scalars: turn counts, intents, person, times, finish (pure).

Kept per open session and advanced per event in O(1), so sealing never re-reads the
session's turns. ``turns``/``user_turns`` are the rate's opportunities and count every
turn, rolled back or not (restores are rare); ``current_intent`` follows the shared
fold's rule (``payload.intent or state.intent``, a restore takes the snapshot's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lifeline_events import Event, SessionFinished, SessionRestored, TurnRecorded

MAX_INTENTS = 64


@dataclass(frozen=True)
class Finish:
    seq: int
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class SessionScalars:
    seq: int = 0
    person_id: str | None = None
    turns: int = 0
    user_turns: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    current_intent: str | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    finished: Finish | None = None

    def to_json(self) -> dict[str, Any]:
        f = self.finished
        return {
            "seq": self.seq,
            "person_id": self.person_id,
            "turns": self.turns,
            "user_turns": self.user_turns,
            "intents": self.intents,
            "current_intent": self.current_intent,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "finished": None if f is None else {"seq": f.seq, "at": f.at.isoformat(), "reason": f.reason},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionScalars:
        f = data.get("finished")
        return cls(
            seq=data["seq"],
            person_id=data.get("person_id"),
            turns=data["turns"],
            user_turns=data["user_turns"],
            intents=dict(data.get("intents") or {}),
            current_intent=data.get("current_intent"),
            first_at=_dt(data.get("first_at")),
            last_at=_dt(data.get("last_at")),
            finished=None if not f else Finish(f["seq"], datetime.fromisoformat(f["at"]), f.get("reason")),
        )


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def advance(s: SessionScalars, event: Event) -> SessionScalars:
    """The scalars after ``event``; an event at or below ``s.seq`` changes nothing."""
    if event.seq <= s.seq:
        return s
    at = event.occurred_at
    first_at = at if s.first_at is None or at < s.first_at else s.first_at
    last_at = at if s.last_at is None or at > s.last_at else s.last_at
    person, turns, user_turns = event.person_id or s.person_id, s.turns, s.user_turns
    intents, intent, finished = s.intents, s.current_intent, s.finished
    p = event.payload
    if isinstance(p, TurnRecorded):
        turns, user_turns = turns + 1, user_turns + (p.role == "user")
        if p.intent is not None and (p.intent in intents or len(intents) < MAX_INTENTS):
            intents = {**intents, p.intent: intents.get(p.intent, 0) + 1}
        intent = p.intent or intent
    elif isinstance(p, SessionRestored):
        restored = p.state.get("intent")
        intent = restored if isinstance(restored, str) else None
        person = p.state.get("person_id") or person
    elif isinstance(p, SessionFinished):
        finished = Finish(event.seq, event.occurred_at, p.reason)
    # one constructor call per event (dataclasses.replace twice was the hot spot)
    return SessionScalars(event.seq, person, turns, user_turns, intents, intent, first_at, last_at, finished)
