"""Event builders for tests: valid turns with optional acts, in the wire form."""

from __future__ import annotations

from typing import Any


def turn(turn_id: int, text: str = "hello", *, role: str = "user", person_id: str = "p-1",
         **payload: Any) -> dict[str, Any]:
    return {"event_type": "turn.recorded", "turn_id": turn_id, "person_id": person_id,
            "payload": {"role": role, "text": text, **payload}}
