"""Validation at the boundary: every bad input names its field and problem."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from lifeline_events import (
    MAX_TURN_TEXT_CHARS,
    EventValidationError,
    NewEvent,
    TurnRecorded,
    parse_new_event,
)

GOOD_TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _turn(**over):
    body = {"event_type": "turn.recorded", "turn_id": 1, "payload": {"role": "user", "text": "hi"}}
    body.update(over)
    return body


def _locs(exc: pytest.ExceptionInfo[EventValidationError]) -> list[str]:
    return [e["loc"] for e in exc.value.errors]


def test_wire_example_from_design_parses() -> None:
    """The README's example batch elements validate, with acts typed by op."""
    raw = {
        "event_type": "turn.recorded", "turn_id": 2, "person_id": "p-7",
        "payload": {"role": "assistant", "text": "Happy to help …", "model_id": "gpt-a",
                    "intent": "service_inquiry", "model_score": 8.2, "success": True,
                    "latency_ms": 640,
                    "acts": [{"op": "set_stage", "stage": "discovery"},
                             {"op": "confirm_fact", "key": "service", "value": "veneers"}]},
    }
    event = parse_new_event(raw, session_id="s-42", tenant_id="t-1")
    assert isinstance(event.payload, TurnRecorded)
    assert [a.op for a in event.payload.acts] == ["set_stage", "confirm_fact"]
    assert (event.session_id, event.tenant_id) == ("s-42", "t-1")


def test_bytes_and_str_bodies_parse() -> None:
    """JSON bytes and str are accepted like dicts."""
    raw = orjson.dumps(_turn())
    assert parse_new_event(raw).turn_id == 1
    assert parse_new_event(raw.decode()).turn_id == 1


@pytest.mark.parametrize("body", [b"{", b"not json", "", b"\xff\xfe"])
def test_invalid_json_is_reported_at_root(body: bytes | str) -> None:
    """A body that is not JSON fails with loc "" and says so."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(body)
    assert _locs(exc) == [""]
    assert "not valid JSON" in exc.value.errors[0]["msg"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'"x"', b"3", b"null"])
def test_non_object_json_is_reported_at_root(body: bytes) -> None:
    """Valid JSON that is not an object fails with loc "" naming what it got."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(body)
    assert _locs(exc) == [""]
    assert "expected a JSON object" in str(exc.value)


def test_unknown_event_type_names_event_type_only() -> None:
    """An unknown event_type is one error at event_type, not a cascade of payload errors."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event({"event_type": "turn.deleted", "payload": {"x": 1}})
    assert _locs(exc) == ["event_type"]
    assert "turn.deleted" in str(exc.value) and "turn.recorded" in str(exc.value)


def test_missing_event_type_is_named() -> None:
    """A body without event_type reports event_type as required."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event({"payload": {}})
    assert _locs(exc) == ["event_type"]


def test_payload_errors_carry_dotted_paths() -> None:
    """Payload field errors are located as payload.<field>."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(payload={"role": "robot", "text": "x", "colour": "red"}))
    assert set(_locs(exc)) == {"payload.role", "payload.colour"}
    assert "payload.role" in str(exc.value)
    assert "unknown field" in str(exc.value)


def test_act_errors_point_at_the_act_field_without_union_tag() -> None:
    """An act's bad field is located as payload.acts.<i>.<field>."""
    raw = _turn(payload={"role": "user", "text": "x", "acts": [
        {"op": "pin", "id": "a", "text": "ok"}, {"op": "add_episode", "text": "e", "salience": 2}]})
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(raw)
    assert _locs(exc) == ["payload.acts.1.salience"]


def test_unknown_act_op_is_named() -> None:
    """An act with an unknown op fails at payload.acts.<i>, listing the known ops."""
    raw = _turn(payload={"role": "user", "text": "x", "acts": [{"op": "teleport"}]})
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(raw)
    assert _locs(exc) == ["payload.acts.0"]
    assert "set_stage" in exc.value.errors[0]["msg"]


def test_naive_occurred_at_is_rejected() -> None:
    """occurred_at without a timezone is an error at occurred_at."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(occurred_at="2025-01-01T12:00:00"))
    assert _locs(exc) == ["occurred_at"]
    assert "timezone" in str(exc.value)


def test_naive_datetime_object_is_rejected_too() -> None:
    """A naive datetime object is rejected just like a naive string."""
    with pytest.raises(EventValidationError):
        parse_new_event(_turn(occurred_at=datetime(2025, 1, 1)))


def test_aware_occurred_at_is_normalised_to_utc() -> None:
    """An offset time is stored as the same instant in UTC."""
    event = parse_new_event(_turn(occurred_at="2025-01-01T14:00:00+02:00"))
    assert event.occurred_at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert event.occurred_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ],
)
def test_bad_traceparent_is_rejected(value: str) -> None:
    """A traceparent that is not W3C version-00 format is an error at traceparent."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(traceparent=value))
    assert _locs(exc) == ["traceparent"]


def test_good_traceparent_is_kept() -> None:
    """A valid traceparent passes unchanged."""
    assert parse_new_event(_turn(traceparent=GOOD_TP)).traceparent == GOOD_TP


def test_oversize_text_is_rejected() -> None:
    """Turn text over the limit fails at payload.text; exactly the limit passes."""
    ok = _turn(payload={"role": "user", "text": "x" * MAX_TURN_TEXT_CHARS})
    assert len(parse_new_event(ok).payload.text) == MAX_TURN_TEXT_CHARS
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(payload={"role": "user", "text": "x" * (MAX_TURN_TEXT_CHARS + 1)}))
    assert _locs(exc) == ["payload.text"]


def test_turn_recorded_requires_turn_id() -> None:
    """turn.recorded without turn_id is an error at turn_id."""
    body = _turn()
    del body["turn_id"]
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(body)
    assert _locs(exc) == ["turn_id"]
    assert "required for turn.recorded" in str(exc.value)


def test_turn_id_is_refused_on_other_event_types() -> None:
    """turn_id is the turn dedup key, so a non-turn event carrying one is rejected."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event({"event_type": "session.finished", "turn_id": 3, "payload": {}})
    assert _locs(exc) == ["turn_id"]


def test_negative_turn_id_is_rejected() -> None:
    """turn_id must be >= 0."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(turn_id=-1))
    assert _locs(exc) == ["turn_id"]


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "", "slash/y"])
def test_session_id_format_is_enforced(bad: str) -> None:
    """session_id must be 1-128 safe characters."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(session_id=bad))
    assert _locs(exc) == ["session_id"]


def test_tenant_id_format_is_enforced() -> None:
    """tenant_id follows the same pattern as session_id."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(tenant_id="a b"))
    assert _locs(exc) == ["tenant_id"]


def test_keyword_scope_fills_missing_ids() -> None:
    """session_id/tenant_id keywords fill the event when the body omits them."""
    event = parse_new_event(_turn(), session_id="s-1", tenant_id="t-9")
    assert (event.session_id, event.tenant_id) == ("s-1", "t-9")


def test_same_session_in_body_and_keyword_is_fine() -> None:
    """A body that repeats the path's session_id is accepted."""
    assert parse_new_event(_turn(session_id="s-1"), session_id="s-1").session_id == "s-1"


def test_conflicting_session_id_is_named() -> None:
    """A body naming another session than the keyword fails at session_id."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(session_id="s-other"), session_id="s-1")
    assert _locs(exc) == ["session_id"]
    assert "s-other" in str(exc.value)


def test_conflicting_tenant_id_is_named() -> None:
    """A body naming another tenant than the keyword fails at tenant_id."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(tenant_id="t-evil"), tenant_id="t-1")
    assert _locs(exc) == ["tenant_id"]


def test_scope_conflict_is_reported_with_other_errors() -> None:
    """All problems come back together, scope conflicts included."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(session_id="s-2", traceparent="x"), session_id="s-1")
    assert set(_locs(exc)) == {"session_id", "traceparent"}


def test_producer_cannot_set_seq() -> None:
    """seq is ingest's; a producer-supplied seq is an unknown field."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(seq=5))
    assert _locs(exc) == ["seq"]


def test_nan_score_is_rejected() -> None:
    """NaN has no JSON spelling, so model_score NaN is rejected."""
    raw = _turn(payload={"role": "assistant", "text": "x", "model_score": float("nan")})
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(raw)
    assert _locs(exc) == ["payload.model_score"]


def test_model_score_range_is_enforced() -> None:
    """model_score must be within 0..10."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(payload={"role": "assistant", "text": "x", "model_score": 11}))
    assert _locs(exc) == ["payload.model_score"]


def test_huge_fact_value_is_rejected() -> None:
    """A confirm_fact value over 2 KiB of JSON fails at its value."""
    act = {"op": "confirm_fact", "key": "k", "value": "v" * 5000}
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(payload={"role": "user", "text": "x", "acts": [act]}))
    assert _locs(exc) == ["payload.acts.0.value"]


def test_integer_beyond_64_bits_in_fact_is_rejected_not_crashing() -> None:
    """A fact value orjson cannot encode is a validation error, not a TypeError."""
    act = {"op": "confirm_fact", "key": "k", "value": 2**70}
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(payload={"role": "user", "text": "x", "acts": [act]}))
    assert _locs(exc) == ["payload.acts.0.value"]


def test_missing_payload_defaults_to_empty_for_optional_payloads() -> None:
    """session.finished may omit its payload; all its fields are optional."""
    event = parse_new_event({"event_type": "session.finished"})
    assert event.payload.reason is None


def test_missing_payload_of_a_turn_names_payload_fields() -> None:
    """A turn without payload reports the payload's required fields."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event({"event_type": "turn.recorded", "turn_id": 1})
    assert set(_locs(exc)) == {"payload.role", "payload.text"}


def test_wrong_payload_model_instance_is_rejected() -> None:
    """A payload object of another event type's model is rejected at payload."""
    with pytest.raises(ValueError, match=r"payload of session\.finished must be SessionFinished"):
        NewEvent(event_type="session.finished", payload=TurnRecorded(role="user", text="x"))


def test_future_schema_version_is_rejected() -> None:
    """A schema_version newer than this build is an error at schema_version."""
    with pytest.raises(EventValidationError) as exc:
        parse_new_event(_turn(schema_version=99))
    assert _locs(exc) == ["schema_version"]
    assert "newer" in str(exc.value)


def test_error_str_names_every_field() -> None:
    """str(EventValidationError) lists each location and message."""
    err = EventValidationError([{"loc": "payload.role", "msg": "bad"}, {"loc": "", "msg": "x"}])
    assert str(err) == "2 validation errors in event: payload.role: bad; <event>: x"


def test_with_prefix_relocates_errors_into_a_batch() -> None:
    """with_prefix puts locations under a batch element path."""
    err = EventValidationError([{"loc": "payload.role", "msg": "bad"}, {"loc": "", "msg": "x"}])
    assert [e["loc"] for e in err.with_prefix("events.0").errors] == [
        "events.0.payload.role", "events.0"]


def test_new_event_is_frozen() -> None:
    """A validated event cannot be modified."""
    event = parse_new_event(_turn())
    with pytest.raises(ValueError, match="frozen"):
        event.turn_id = 2  # type: ignore[misc]
