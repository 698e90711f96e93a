"""Events as ingest would have logged them, for producing straight onto the bus."""

from __future__ import annotations

from datetime import datetime

from lifeline_events import Event, parse_new_event
from lifeline_testing.builders import turn


def logged(session: str, seq: int, recorded_at: datetime, *, person: str = "p-1",
           tenant: str = "default", traceparent: str | None = None) -> tuple[str, bytes]:
    """(key, value) of a logged turn with the given seq and recorded_at."""
    raw = turn(seq, f"turn {seq} of {session}", person_id=person)
    if traceparent:
        raw["traceparent"] = traceparent
    new = parse_new_event(raw, session_id=session, tenant_id=tenant)
    return session, Event.from_new(new, seq=seq, recorded_at=recorded_at).to_json_bytes()
