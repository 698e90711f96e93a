"""A producer's event: the one-pass way answers exactly as the general validation does.

`parse_new_event` (ingest's intake for HTTP bodies and topic records) tries
`fast_decode.parse_current_new` first. The oracle is `NewEvent.model_validate` on the same
dict — what `parse_new_event` did for every event before. Producers mostly leave
`schema_version` out (version 1, upcast), use v1's `content`, forget fields, add unknown
ones, send NULs: for all of it both ways give the same `NewEvent` or the same errors, and
the one-pass way is really taken for valid events with and without a version.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lifeline_events import EVENT_TYPES, EventValidationError, NewEvent, parse_new_event
from lifeline_events.acts import ACT_OPS
from lifeline_events.fast_decode import parse_current_new

from .test_events_fast_decode import JSON_VALUES, PAYLOADS

PROPS = settings(max_examples=400, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def submitted(event_type: str) -> dict[str, Any]:
    """An event as a producer posts it: no ids, no times, no version."""
    data: dict[str, Any] = {"event_type": event_type, "person_id": "p-7",
                            "payload": copy.deepcopy(PAYLOADS[event_type])}
    if event_type == "turn.recorded":
        data["turn_id"] = 4
    return data


def general(data: dict[str, Any]) -> NewEvent | list[dict[str, str]]:
    """The general validation: what parse_new_event did for every event before."""
    try:
        return NewEvent.model_validate(dict(data, session_id="s-42", tenant_id="clinic-1"))
    except ValidationError as exc:
        return EventValidationError.from_pydantic(exc, union_tags=ACT_OPS).errors


def assert_same_answer(data: dict[str, Any]) -> None:
    expected = general(data)
    try:
        got: NewEvent | list[dict[str, str]] = parse_new_event(data, session_id="s-42", tenant_id="clinic-1")
    except EventValidationError as exc:
        got = exc.errors
    if isinstance(expected, list):
        assert got == expected, f"answered differently: {data!r}"
        return
    assert isinstance(got, NewEvent), f"refused a valid event: {got}"
    assert type(got) is NewEvent
    assert got == expected
    assert got.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert got.payload.__pydantic_fields_set__ == expected.payload.__pydantic_fields_set__
    assert got.model_dump() == expected.model_dump()
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@pytest.mark.parametrize("versioned", [False, True])
def test_a_valid_submission_takes_the_one_pass_way(event_type: str, versioned: bool) -> None:
    data = submitted(event_type) | {"session_id": "s-42", "tenant_id": "clinic-1"}
    if versioned:
        data["schema_version"] = 2 if event_type == "turn.recorded" else 1
    assert parse_current_new(data) is not None
    assert_same_answer(data)


@pytest.mark.parametrize("change", [
    {"payload": {"role": "user", "content": "v1 spelled it content"}},   # upcast moves it
    {"schema_version": 1, "payload": {"role": "user", "content": "hello"}},
    {"schema_version": 3}, {"schema_version": "2"}, {"schema_version": 0}, {"schema_version": None},
    {"turn_id": None}, {"event_type": ["turn.recorded"]}, {"event_type": "no.such.type"},
    {"payload": {"role": "user", "text": "a\u0000b"}}, {"person_id": "p\u00007"}, {"extra": 1},
    {"occurred_at": "1800-01-01T00:00:00+00:00"}, {"occurred_at": "2026-03-01T09:00:00"},
    {"event_id": "not-a-uuid"}, {"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"},
])
def test_what_the_one_pass_way_does_not_settle_gets_the_same_answer(change: dict[str, Any]) -> None:
    assert_same_answer(submitted("turn.recorded") | change)


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    """A producer's event of any type with one to three of its fields (or its payload's) changed."""
    data = submitted(draw(st.sampled_from(sorted(EVENT_TYPES))))
    if draw(st.booleans()):
        data["schema_version"] = draw(st.sampled_from([1, 2, 3]))
    for _ in range(draw(st.integers(0, 3))):
        payload = data.get("payload")
        where = payload if isinstance(payload, dict) and draw(st.booleans()) else data
        key = draw(st.sampled_from([*sorted(where), "content", "extra_field", "occurred_at", "event_id"]))
        if draw(st.integers(0, 4)) == 0:
            where.pop(key, None)
        else:
            where[key] = copy.deepcopy(draw(JSON_VALUES))  # st.just's lists and dicts are shared
    return data


@PROPS
@given(submissions())
def test_submissions_get_the_same_answer_both_ways(data: dict[str, Any]) -> None:
    assert_same_answer(data)
