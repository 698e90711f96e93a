"""Turning raw request bodies and topic records into validated events.

Shared by the HTTP API and the topic consumer so both paths enforce the same
limits and name the same fields in their errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from lifeline_events import EventValidationError, NewEvent, parse_new_event
from lifeline_ingest.errors import IntakeError, IntakeTooLargeError
from lifeline_servicekit import MAX_INT64


@dataclass(frozen=True)
class Batch:
    events: list[NewEvent]
    expected_seq: int | None


def _prefixed(prefix: str, exc: EventValidationError) -> list[dict[str, str]]:
    return [{"field": f"{prefix}{e['loc']}".rstrip("."), "msg": e["msg"]} for e in exc.errors]


def _limit(raw: Any, max_event_bytes: int, max_restore_bytes: int) -> int:
    """`session.restored` carries a whole session state, so it gets its own, larger limit."""
    if isinstance(raw, dict) and raw.get("event_type") == "session.restored":
        return max(max_event_bytes, max_restore_bytes)
    return max_event_bytes


def parse_batch(body: bytes, *, session_id: str, tenant_id: str, max_event_bytes: int,
                max_batch_events: int, max_restore_bytes: int = 0) -> Batch:
    """Validate an HTTP body: one event, or `{"events": [...], "expected_seq": n}`."""
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IntakeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise IntakeError("body must be a JSON object: an event or {\"events\": [...]}")
    if "events" not in doc:
        doc = {"events": [doc]}
    unknown = set(doc) - {"events", "expected_seq"}
    if unknown:
        raise IntakeError(f"unknown field(s) {sorted(unknown)}",
                          [{"field": f, "msg": "unknown field"} for f in sorted(unknown)])
    raw_events, expected = doc["events"], doc.get("expected_seq")
    if not isinstance(raw_events, list) or not raw_events:
        raise IntakeError("events must be a non-empty list",
                          [{"field": "events", "msg": "must be a non-empty list"}])
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)
                                 or not 0 <= expected <= MAX_INT64):
        raise IntakeError("expected_seq must be a non-negative integer",
                          [{"field": "expected_seq", "msg": "must be a non-negative integer"}])
    if len(raw_events) > max_batch_events:
        raise IntakeTooLargeError(f"batch has {len(raw_events)} events; the limit is {max_batch_events}",
                          [{"field": "events", "msg": f"more than {max_batch_events} events"}])
    events, errors = [], []
    for i, raw in enumerate(raw_events):
        size, limit = len(orjson.dumps(raw)), _limit(raw, max_event_bytes, max_restore_bytes)
        if size > limit:
            raise IntakeTooLargeError(f"events.{i} is {size} bytes; the limit is {limit}",
                              [{"field": f"events.{i}", "msg": f"event larger than {limit} bytes"}])
        if isinstance(raw, dict) and raw.get("tenant_id") not in (None, tenant_id):
            errors.append({"field": f"events.{i}.tenant_id",
                           "msg": "does not match the API key's tenant"})
            continue
        try:
            events.append(parse_new_event(raw, session_id=session_id, tenant_id=tenant_id))
        except EventValidationError as exc:
            errors.extend(_prefixed(f"events.{i}.", exc))
    if errors:
        raise IntakeError("; ".join(f"{e['field']}: {e['msg']}" for e in errors), errors)
    return Batch(events, expected)


def parse_record(value: bytes, *, default_tenant: str, max_event_bytes: int) -> NewEvent:
    """Validate one topic record (an event JSON carrying its `session_id`)."""
    if len(value) > max_event_bytes:
        raise IntakeTooLargeError(f"record is {len(value)} bytes; the limit is {max_event_bytes}")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise IntakeError(f"record is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise IntakeError("record must be a JSON object (one event)")
    if not doc.get("session_id"):
        raise IntakeError("session_id: required on topic records",
                          [{"field": "session_id", "msg": "required on topic records"}])
    try:
        return parse_new_event(doc, tenant_id=doc.get("tenant_id") or default_tenant)
    except EventValidationError as exc:
        errors = _prefixed("", exc)
        raise IntakeError("; ".join(f"{e['field']}: {e['msg']}" for e in errors), errors) from exc
