"""Event builders for memory's unit tests: deterministic ids and times from (day, seq)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zlib import crc32

from lifeline_events import Event, SessionState, content_hash, fold

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
TENANT = "t-1"
PERSON = "p-7"


def ev(
    seq: int,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    session: str = "s-1",
    turn_id: int | None = None,
    day: int = 0,
    person: str | None = PERSON,
) -> Event:
    """A stored event; ``event_id`` and times follow from session, day and seq."""
    return Event.model_validate(
        {
            "event_id": UUID(int=crc32(session.encode()) * 10**6 + seq),
            "event_type": event_type,
            "tenant_id": TENANT,
            "session_id": session,
            "person_id": person,
            "turn_id": turn_id,
            "seq": seq,
            "occurred_at": T0 + timedelta(days=day, seconds=seq),
            "recorded_at": T0 + timedelta(days=day, seconds=seq, milliseconds=3),
            "payload": payload or {},
        }
    )


def turn(
    seq: int,
    turn_id: int,
    *,
    role: str = "user",
    text: str = "hello",
    intent: str | None = None,
    acts: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> Event:
    payload: dict[str, Any] = {"role": role, "text": text, "acts": acts or []}
    if intent:
        payload["intent"] = intent
    return ev(seq, "turn.recorded", payload, turn_id=turn_id, **kw)


def grade(
    seq: int,
    turn_id: int,
    *,
    grader: str | None = "coach",
    errors: list[str] = (),  # type: ignore[assignment]
    strengths: list[str] = (),
    skill_tags: list[str] = (),
    **kw: Any,
) -> Event:  # type: ignore[assignment]
    payload: dict[str, Any] = {
        "turn_id": turn_id,
        "errors": list(errors),
        "strengths": list(strengths),
        "skill_tags": list(skill_tags),
    }
    if grader:
        payload["grader"] = grader
    return ev(seq, "turn.evaluated", payload, **kw)


def finished(seq: int, **kw: Any) -> Event:
    return ev(seq, "session.finished", {"reason": "completed"}, **kw)


def restore(seq: int, prior: list[Event], to_seq: int, **kw: Any) -> Event:
    """A ``session.restored`` to the fold's state at ``to_seq`` (as snapshot would make it)."""
    state = fold([e for e in prior if e.seq <= to_seq]).model_dump(mode="json")
    return ev(
        seq,
        "session.restored",
        {"snapshot_id": f"snap-{to_seq}", "content_hash": content_hash(state), "state": state},
        **kw,
    )


def empty_state() -> SessionState:
    return SessionState()
