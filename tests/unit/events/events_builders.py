"""Event builders for the events-library tests: fixed times, explicit seqs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from lifeline_events import Event

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TENANT = "t-1"
SESSION = "s-42"


def event(
    seq: int,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    turn_id: int | None = None,
    session_id: str = SESSION,
    tenant_id: str = TENANT,
    person_id: str | None = "p-7",
) -> Event:
    """A stored event with deterministic id and times derived from ``seq``."""
    return Event.model_validate(
        {
            "event_id": UUID(int=seq),
            "event_type": event_type,
            "tenant_id": tenant_id,
            "session_id": session_id,
            "person_id": person_id,
            "turn_id": turn_id,
            "seq": seq,
            "occurred_at": T0 + timedelta(seconds=seq),
            "recorded_at": T0 + timedelta(seconds=seq, milliseconds=5),
            "payload": payload or {},
        }
    )


def turn(
    seq: int,
    text: str = "hello",
    *,
    role: str = "user",
    acts: list[dict[str, Any]] | None = None,
    turn_id: int | None = None,
    **payload: Any,
) -> Event:
    """A ``turn.recorded`` event; ``turn_id`` defaults to ``seq``."""
    body = {"role": role, "text": text, "acts": acts or [], **payload}
    return event(seq, "turn.recorded", body, turn_id=seq if turn_id is None else turn_id)


def acts_turn(seq: int, *acts: dict[str, Any]) -> Event:
    """An assistant turn that only carries ``acts``."""
    return turn(seq, "ok.", role="assistant", acts=list(acts))
