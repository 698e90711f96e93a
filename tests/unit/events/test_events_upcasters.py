"""Upcasters: old event versions are read through current code unchanged in meaning."""

from __future__ import annotations

import pytest

from lifeline_events import (
    CURRENT_SCHEMA_VERSIONS,
    Event,
    EventValidationError,
    UpcastError,
    parse_new_event,
    register_upcaster,
    upcast,
)
from lifeline_events import registry as registry_module

from .events_builders import T0


def _v1_turn(**payload) -> dict:
    return {"event_type": "turn.recorded", "schema_version": 1, "turn_id": 1,
            "payload": {"role": "user", **payload}}


def test_turn_recorded_is_at_version_2() -> None:
    """turn.recorded's current schema version is 2 (text, not content)."""
    assert CURRENT_SCHEMA_VERSIONS["turn.recorded"] == 2


def test_v1_content_becomes_text() -> None:
    """A v1 turn's payload.content is read as payload.text at version 2."""
    event = parse_new_event(_v1_turn(content="hello there"))
    assert event.payload.text == "hello there"
    assert event.schema_version == 2


def test_v1_that_already_says_text_passes() -> None:
    """A v1-labelled turn that already uses text is accepted unchanged."""
    assert parse_new_event(_v1_turn(text="hi")).payload.text == "hi"


def test_missing_schema_version_means_v1_and_is_upcast() -> None:
    """An event without schema_version is treated as v1 and upcast."""
    raw = _v1_turn(content="legacy")
    del raw["schema_version"]
    event = parse_new_event(raw)
    assert (event.payload.text, event.schema_version) == ("legacy", 2)


def test_v1_with_both_content_and_text_is_an_error() -> None:
    """Ambiguous v1 payloads (content and text) are refused, naming content."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_v1_turn(content="a", text="b"))
    assert [e["loc"] for e in exc.value.errors] == ["payload.content"]


def test_v2_content_is_not_upcast() -> None:
    """At the current version content is just an unknown field."""
    raw = _v1_turn(content="x")
    raw["schema_version"] = 2
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(raw)
    assert {e["loc"] for e in exc.value.errors} == {"payload.content", "payload.text"}


def test_stored_v1_event_is_upcast_by_from_json() -> None:
    """Event.from_json applies upcasters to stored events too."""
    raw = {**_v1_turn(content="from the log"), "event_id": "00000000-0000-0000-0000-000000000001",
           "tenant_id": "t", "session_id": "s", "seq": 1,
           "occurred_at": T0.isoformat(), "recorded_at": T0.isoformat()}
    event = Event.from_json(raw)
    assert event.payload.text == "from the log" and event.schema_version == 2


def test_upcast_does_not_mutate_its_input() -> None:
    """upcast returns a new dict and leaves the caller's dict alone."""
    raw = _v1_turn(content="x")
    upcast(raw)
    assert raw["payload"] == {"role": "user", "content": "x"}
    assert raw["schema_version"] == 1


def test_newer_version_raises_upcast_error() -> None:
    """upcast refuses versions newer than the build knows."""
    with pytest.raises(UpcastError):
        upcast({"event_type": "session.started", "schema_version": 5})


def test_registered_upcaster_chain_runs_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upcasters chain v1→v2→v3, each bumping schema_version."""
    monkeypatch.setitem(CURRENT_SCHEMA_VERSIONS, "session.started", 3)
    monkeypatch.setattr(registry_module, "_UPCASTERS", dict(registry_module._UPCASTERS))
    seen: list[int] = []

    @register_upcaster("session.started", 1)
    def _one(raw: dict) -> dict:
        seen.append(raw["schema_version"])
        return raw

    @register_upcaster("session.started", 2)
    def _two(raw: dict) -> dict:
        seen.append(raw["schema_version"])
        raw["payload"] = {**raw.get("payload", {}), "channel": "web"}
        return raw

    out = upcast({"event_type": "session.started", "schema_version": 1, "payload": {}})
    assert seen == [1, 2]
    assert out["schema_version"] == 3 and out["payload"] == {"channel": "web"}


def test_missing_upcaster_in_chain_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A version gap without an upcaster is an error at schema_version."""
    monkeypatch.setitem(CURRENT_SCHEMA_VERSIONS, "session.finished", 2)
    with pytest.raises(EventValidationError) as exc:
        parse_new_event({"event_type": "session.finished", "schema_version": 1})
    assert [e["loc"] for e in exc.value.errors] == ["schema_version"]


def test_registering_twice_is_refused() -> None:
    """Two upcasters for the same (type, version) is a programming error."""
    with pytest.raises(ValueError, match="already registered"):
        register_upcaster("turn.recorded", 1)(lambda raw: raw)
