"""The one-pass decoder answers exactly as the general validation does (fast_decode.py).

The oracle is `Event.model_validate` on the same orjson-decoded dict — the general way,
which `Event.from_json` took for every event before. For valid events of every type and
for thousands of broken ones (a field removed, retyped, out of range; an old version; a
rule broken), `from_json` must give the same event (equal, same fields set, same bytes,
same repr) or the same errors; and the one-pass way must really be taken for current,
valid events, or this file would be testing the general way twice.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lifeline_events import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_TYPES,
    Event,
    EventValidationError,
    SessionState,
    canonical_json,
    content_hash,
)
from lifeline_events.acts import ACT_OPS
from lifeline_events.errors import load_json_object
from lifeline_events.fast_decode import decode_current
from lifeline_events.storable import NUL_FREE, nul_free_text

from .test_events_properties import logs

PROPS = settings(max_examples=400, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_STATE = orjson.loads(canonical_json(SessionState()))
_HASH = content_hash(SessionState())
_LATER = "2026-03-01T10:00:00+00:00"

PAYLOADS: dict[str, dict[str, Any]] = {
    "session.started": {"channel": "web", "locale": "de-DE", "metadata": {"clinic": "Mitte"}},
    "turn.recorded": {"role": "user", "text": "Do you do veneers? Around 4000 euros.", "intent": "ask",
                      "model_id": "gpt-a", "model_score": 7.5, "success": True, "latency_ms": 420,
                      "salience": 0.35, "acts": [{"op": "confirm_fact", "key": "budget", "value": 4000},
                                                  {"op": "set_stage", "stage": "pricing"}]},
    "turn.evaluated": {"turn_id": 2, "score": 6.5, "errors": ["late"], "strengths": ["clear"]},
    "session.finished": {"reason": "done"},
    "session.restored": {"snapshot_id": "snap-1", "content_hash": _HASH, "state": _STATE},
    "snapshot.created": {"snapshot_id": "snap-1", "content_hash": _HASH, "at_seq": 3},
    "profile.consolidated": {"person_id": "p-7"},
    "profile.forgotten": {"person_id": "p-7", "scope": "person"},
    "model.call.recorded": {"model_id": "gpt-a", "success": True, "latency_ms": 300},
    "model.state.changed": {"model_id": "gpt-a", "to_state": "PRIMARY", "reason": "promoted"},
    "model.anomaly.detected": {"model_id": "gpt-a", "previous_score": 8.0, "current_score": 5.0,
                               "drop": 3.0},
    "participant.joined": {"participant_id": "coach-1", "role": "editor"},
    "participant.left": {"participant_id": "coach-1"},
    "lock.acquired": {"scope": "stage", "participant_id": "coach-1", "token": 4, "expires_at": _LATER},
    "lock.released": {"scope": "stage", "participant_id": "coach-1", "token": 4},
    "session.conflict.opened": {"conflict_id": "c-1", "strategy": "user_choice", "expected_seq": 2,
                                "scopes": ["stage"], "ours": [{"op": "set_stage", "stage": "close"}]},
    "session.conflict.resolved": {"conflict_id": "c-1", "choice": "ours", "resolved_by": "coach-1"},
    "session.branched": {"parent_session_id": "s-1", "from_seq": 2},
    "session.policy.set": {},
}


def envelope(event_type: str, seq: int = 3) -> dict[str, Any]:
    """A stored event of `event_type` as the bus carries it (ingest's relay)."""
    return {"event_id": "01950000-0000-7000-8000-000000000003", "event_type": event_type,
            "tenant_id": "clinic-1", "session_id": "s-42", "person_id": "p-7",
            "turn_id": 2 if event_type == "turn.recorded" else None, "seq": seq,
            "occurred_at": "2026-03-01T09:00:00+00:00", "recorded_at": "2026-03-01T09:00:00.005+00:00",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "schema_version": CURRENT_SCHEMA_VERSIONS[event_type], "payload": PAYLOADS[event_type]}


def general(raw: bytes) -> Event | EventValidationError:
    """The general validation of `raw`: what `from_json` did for every event before."""
    try:
        data = load_json_object(raw)
    except EventValidationError as exc:  # not JSON, or not an object: neither way validates
        return exc
    try:
        return Event.model_validate(data, context=NUL_FREE if nul_free_text(raw) else None)
    except ValidationError as exc:  # worded as from_json words it
        return EventValidationError.from_pydantic(exc, union_tags=ACT_OPS)


def assert_same_answer(raw: bytes) -> None:
    expected = general(raw)
    try:
        got: Event | EventValidationError = Event.from_json(raw)
    except EventValidationError as exc:
        got = exc
    if isinstance(expected, EventValidationError):
        assert isinstance(got, EventValidationError), f"accepted what the general way refuses: {raw!r}"
        assert got.errors == expected.errors
        return
    assert isinstance(got, Event), f"refused a valid event: {got}"
    assert type(got) is Event
    assert got == expected
    assert got.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert got.to_json_bytes() == expected.to_json_bytes()
    assert repr(got) == repr(expected)
    assert got.payload.__pydantic_fields_set__ == expected.payload.__pydantic_fields_set__


def test_every_event_type_has_a_valid_example() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert isinstance(general(orjson.dumps(envelope(event_type))), Event), event_type


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_a_current_valid_event_takes_the_one_pass_way_and_decodes_the_same(event_type: str) -> None:
    raw = orjson.dumps(envelope(event_type))
    assert decode_current(orjson.loads(raw)) is not None
    assert_same_answer(raw)


@pytest.mark.parametrize(("event_type", "change"), [
    ("turn.recorded", {"schema_version": 1}),  # an old turn: upcast on the general way
    ("turn.recorded", {"schema_version": "2"}), ("turn.recorded", {"schema_version": 2.0}),
    ("turn.recorded", {"schema_version": True}), ("session.finished", {"schema_version": 2}),
    ("turn.recorded", {"turn_id": None}), ("turn.recorded", {"turn_id": -1}),
    ("session.finished", {"turn_id": 2}), ("turn.evaluated", {"turn_id": 0}),
    ("turn.recorded", {"event_type": "no.such.type"}), ("turn.recorded", {"payload": None}),
    ("turn.recorded", {"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"}),
    ("turn.recorded", {"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"}),
    ("turn.recorded", {"seq": 0}), ("turn.recorded", {"session_id": "has space"}),
    ("turn.recorded", {"recorded_at": "2026-03-01T09:00:00"}),
])
def test_what_the_one_pass_way_does_not_take_goes_the_general_way(
    event_type: str, change: dict[str, Any],
) -> None:
    data = envelope(event_type) | change
    if change.get("schema_version") == 1:
        data["payload"] = {"role": "user", "content": "hello"}  # v1's shape
    assert decode_current(orjson.loads(orjson.dumps(data))) is None
    assert_same_answer(orjson.dumps(data))


def test_a_missing_payload_goes_the_general_way_which_fills_it_in() -> None:
    data = envelope("session.finished")
    del data["payload"]
    assert decode_current(data) is None
    assert_same_answer(orjson.dumps(data))
    assert Event.from_json(orjson.dumps(data)).__pydantic_fields_set__ >= {"payload"}


def test_a_turn_without_schema_version_is_upcast_from_version_one() -> None:
    data = envelope("turn.recorded")
    del data["schema_version"]
    data["payload"] = {"role": "user", "content": "hello"}
    assert decode_current(data) is None
    assert Event.from_json(orjson.dumps(data)).payload.text == "hello"  # type: ignore[union-attr]


# JSON orjson cannot write (or reads differently from pydantic's own parser), spliced in as text
LITERALS = {"@big@": b"18446744073709551616", "@huge@": b"1e400", "@nan@": b"NaN",
            "@neg@": b"-9223372036854775809"}
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 1, -1, 2, 3, 2**63 - 1, 2**63, -(2**63)]),
    st.sampled_from(list(LITERALS)),
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.5, -1.5, 1e300]),
    st.sampled_from(["", " ", "x", "2", "PRIMARY", "user", "p-7", " padded ", "a\u0000b", "ümlaut",
                     "2026-03-01T09:00:00+00:00", "2026-03-01T09:00:00",
                     "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
                     "x" * 200, "turn.recorded", "session.finished"]),
    st.just([]), st.just({}), st.just([{"op": "flag", "name": "vip"}]), st.just({"k": "v"}),
)


@st.composite
def broken_events(draw: st.DrawFn) -> bytes:
    """A valid event of any type with one to three of its fields (or its payload's) changed."""
    event_type = draw(st.sampled_from(sorted(EVENT_TYPES)))
    data = envelope(event_type)
    data["payload"] = dict(data["payload"])
    for _ in range(draw(st.integers(1, 3))):
        payload = data.get("payload")
        where = payload if isinstance(payload, dict) and draw(st.booleans()) else data
        keys = [*sorted(where), "extra_field"]
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 4)) == 0:
            where.pop(key, None)
        else:
            where[key] = copy.deepcopy(draw(JSON_VALUES))  # st.just's lists and dicts are shared
    raw = orjson.dumps(data)
    for name, text in LITERALS.items():
        raw = raw.replace(b'"' + name.encode() + b'"', text)
    return raw


@PROPS
@given(broken_events())
def test_broken_events_get_the_same_answer_both_ways(raw: bytes) -> None:
    assert_same_answer(raw)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(logs())
def test_folded_logs_decode_the_same_both_ways(events: list[Event]) -> None:
    for event in events:
        assert_same_answer(event.to_json_bytes())
