"""Only what PostgreSQL can store passes validation: no NUL, sane instants, real integers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lifeline_events import EventValidationError, parse_new_event
from lifeline_events.storable import refuse_nul


def _turn(payload: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_type": "turn.recorded", "turn_id": 1,
                            "payload": payload or {"role": "user", "text": "hi"}}
    body.update(over)
    return body


def _errors(raw: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(raw)
    return exc.value.errors


@pytest.mark.parametrize(("raw", "loc"), [
    (_turn({"role": "user", "text": "a\u0000b"}), "payload.text"),
    (_turn({"role": "user", "text": "hi", "intent": "x\u0000"}), "payload.intent"),
    (_turn({"role": "user", "text": "hi", "acts": [
        {"op": "confirm_fact", "key": "k\u0000", "value": "v"}]}), "payload.acts.0.key"),
    (_turn({"role": "user", "text": "hi", "acts": [
        {"op": "confirm_fact", "key": "k", "value": "\u0000"}]}), "payload.acts.0.value"),
    ({"event_type": "session.started", "payload": {"metadata": {"a\u0000": "b"}}},
     "payload.metadata.a\\u0000"),
    ({"event_type": "session.finished", "payload": {"reason": "done\u0000"}}, "payload.reason"),
])
def test_a_nul_anywhere_is_refused_naming_the_field(raw: dict[str, Any], loc: str) -> None:
    """Every string, key or value at any depth, is checked once, centrally."""
    errors = _errors(raw)
    assert [e["loc"] for e in errors] == [loc]
    assert errors[0]["type"] == "nul_character"


@pytest.mark.parametrize("when", [
    "0001-01-01T00:00:00+14:00",     # overflows once shifted to UTC
    "9999-12-31T23:59:59-14:00",
    "1899-12-31T23:59:59+00:00",
    "9000-01-01T00:00:00+00:00",
])
def test_an_extreme_occurred_at_is_refused(when: str) -> None:
    """A valid but absurd instant is a named 422, not an OverflowError."""
    assert [e["loc"] for e in _errors(_turn(occurred_at=when))] == ["occurred_at"]


def test_a_sane_occurred_at_is_kept_in_utc() -> None:
    """The bounds leave real instants alone."""
    event = parse_new_event(_turn(occurred_at="2026-11-30T10:00:00+02:00"))
    assert event.occurred_at is not None and event.occurred_at.hour == 8


@pytest.mark.parametrize("turn_id", [True, 1.0, "1"])
def test_turn_id_is_a_strict_integer(turn_id: Any) -> None:
    """`true` is not turn 1."""
    assert [e["loc"] for e in _errors(_turn(turn_id=turn_id))] == ["turn_id"]


def test_an_evaluated_turn_id_is_strict_too() -> None:
    """The payload's reference to a turn follows the same rule."""
    raw = {"event_type": "turn.evaluated", "payload": {"turn_id": True, "grader": "g"}}
    assert "payload.turn_id" in [e["loc"] for e in _errors(raw)]


def test_a_literal_backslash_u0000_is_text_not_a_nul() -> None:
    """Six characters spelling ``\\u0000`` are ordinary text, kept as sent."""
    event = parse_new_event(_turn({"role": "user", "text": "see \\u0000 here"}))
    assert event.payload.text == "see \\u0000 here"  # type: ignore[union-attr]


@pytest.mark.parametrize("beside", [{1, 2}, 2**70, object()])
def test_a_nul_beside_a_value_json_cannot_spell_is_still_found(beside: Any) -> None:
    """The fast pre-check never hides a NUL: what orjson cannot encode gets the full walk."""
    with pytest.raises(ValidationError):
        refuse_nul({"odd": beside, "deep": [{"k": "a\u0000"}]})
    refuse_nul({"odd": beside, "deep": [{"k": "a"}]})
