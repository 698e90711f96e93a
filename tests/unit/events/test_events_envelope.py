"""The stored envelope: canonical bytes, round trips, acceptance into the log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from lifeline_events import (
    TOPIC_DLQ,
    TOPIC_EVENTS,
    TOPIC_LIFECYCLE,
    TOPIC_TURNS,
    Event,
    EventValidationError,
    new_event_id,
    parse_new_event,
)

from .events_builders import T0, turn


def test_topic_names_are_the_contract() -> None:
    """Topic names match docs/events.md exactly."""
    assert (TOPIC_TURNS, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_DLQ) == (
        "lifeline.turns.v1", "lifeline.events.v1", "lifeline.lifecycle.v1", "lifeline.dlq.v1")


def test_new_event_id_is_uuid7_stdlib() -> None:
    """new_event_id returns a stdlib UUID of version 7, increasing over time."""
    first, second = new_event_id(), new_event_id()
    assert isinstance(first, uuid.UUID) and first.version == 7
    assert first != second and first.bytes[:6] <= second.bytes[:6]


def test_to_json_bytes_is_canonical_and_round_trips() -> None:
    """to_json_bytes has sorted keys, no spaces, UTC 'Z' times and reloads equal."""
    event = turn(3, "hi", acts=[{"op": "pin", "id": "p", "text": "x"}])
    data = event.to_json_bytes()
    assert b" " not in data.replace(b'"hi"', b"")
    decoded = orjson.loads(data)
    assert list(decoded) == sorted(decoded)
    assert decoded["occurred_at"].endswith("Z")
    assert decoded["payload"]["acts"] == [{"op": "pin", "id": "p", "text": "x"}]
    assert Event.from_json(data) == event
    assert Event.from_json(data.decode()).to_json_bytes() == data


def test_from_json_tolerates_unknown_envelope_fields() -> None:
    """Consumers ignore envelope fields a newer ingest added (tolerant reader)."""
    data = orjson.loads(turn(1).to_json_bytes())
    data["published"] = True
    assert Event.from_json(data).seq == 1


def test_from_json_still_rejects_unknown_payload_fields() -> None:
    """Payload typos stay errors even on the tolerant envelope."""
    data = orjson.loads(turn(1).to_json_bytes())
    data["payload"]["txet"] = "oops"
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(data)
    assert [e["loc"] for e in exc.value.errors] == ["payload.txet"]


def test_from_json_requires_log_fields() -> None:
    """A stored event without seq or recorded_at is invalid, naming them."""
    data = orjson.loads(turn(1).to_json_bytes())
    del data["seq"], data["recorded_at"]
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(data)
    assert {e["loc"] for e in exc.value.errors} == {"seq", "recorded_at"}


def test_from_json_rejects_bad_json() -> None:
    """Event.from_json reports undecodable input at loc ''."""
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(b"{nope")
    assert exc.value.errors[0]["loc"] == ""


def test_seq_must_be_positive() -> None:
    """seq starts at 1."""
    data = orjson.loads(turn(1).to_json_bytes())
    data["seq"] = 0
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(data)
    assert [e["loc"] for e in exc.value.errors] == ["seq"]


def test_from_new_fills_ids_and_times() -> None:
    """from_new assigns event_id (v7), seq, scope and times the producer left out."""
    new = parse_new_event({"event_type": "turn.recorded", "turn_id": 1,
                           "payload": {"role": "user", "text": "hi"}})
    event = Event.from_new(new, seq=7, recorded_at=T0, tenant_id="t", session_id="s")
    assert event.event_id.version == 7
    assert (event.seq, event.tenant_id, event.session_id) == (7, "t", "s")
    assert event.occurred_at == event.recorded_at == T0
    assert event.payload == new.payload


def test_from_new_keeps_producer_values() -> None:
    """from_new keeps the producer's event_id and occurred_at."""
    eid = uuid.UUID(int=5)
    occurred = datetime(2024, 6, 1, tzinfo=UTC)
    new = parse_new_event({"event_type": "session.started", "event_id": str(eid),
                           "occurred_at": occurred.isoformat()}, session_id="s", tenant_id="t")
    event = Event.from_new(new, seq=1, recorded_at=T0)
    assert (event.event_id, event.occurred_at, event.recorded_at) == (eid, occurred, T0)


def test_from_new_without_scope_is_an_error() -> None:
    """An event accepted without tenant or session fails, naming the missing field."""
    new = parse_new_event({"event_type": "session.started"}, tenant_id="t")
    with pytest.raises(EventValidationError) as exc:
        Event.from_new(new, seq=1)
    assert [e["loc"] for e in exc.value.errors] == ["session_id"]


def test_ingest_style_construction_works() -> None:
    """Building an Event from a NewEvent's dump plus log fields validates."""
    new = parse_new_event({"event_type": "turn.recorded", "turn_id": 4,
                           "payload": {"role": "user", "text": "x"}}, session_id="s")
    event = Event(**{**new.model_dump(exclude={"payload"}), "payload": new.payload,
                     "event_id": new_event_id(), "tenant_id": "t", "session_id": "s",
                     "seq": 1, "occurred_at": T0, "recorded_at": T0})
    assert event.turn_id == 4 and event.schema_version == 2
