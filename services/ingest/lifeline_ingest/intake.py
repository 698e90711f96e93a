"""Turning raw request bodies and topic records into validated events.

Shared by the HTTP API and the topic consumer so both paths enforce the same
limits and name the same fields in their errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

import orjson

from lifeline_events import (
    COLLABORATION_TYPES,
    ConflictStrategy,
    EventValidationError,
    NewEvent,
    parse_new_event,
)
from lifeline_ingest.errors import IntakeError, IntakeTooLargeError
from lifeline_servicekit import MAX_INT64

STRATEGIES: tuple[str, ...] = get_args(ConflictStrategy)
_PARTICIPANT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@dataclass(frozen=True)
class Batch:
    """A validated append body: the events, and how the writer asked them to be applied.

    `participant_id` names the writer (default: the events' `person_id`), `on_conflict`
    the strategy for a batch prepared against an older `expected_seq` (None: the
    session's setting), `lock_token` the fencing token of the writer's lease (a stale
    one is refused).
    """

    events: list[NewEvent]
    expected_seq: int | None
    participant_id: str | None = None
    on_conflict: str | None = None
    lock_token: int | None = None

    @property
    def writer(self) -> str | None:
        """Who writes: the named participant, else the first event's person."""
        return self.participant_id or next((e.person_id for e in self.events if e.person_id), None)


def _writer_fields(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    participant, strategy = doc.get("participant_id"), doc.get("on_conflict")
    if participant is not None and (not isinstance(participant, str) or not _PARTICIPANT.match(participant)):
        raise IntakeError("participant_id must be 1-128 characters of A-Z a-z 0-9 . _ : @ -",
                          [{"field": "participant_id", "msg": "not a valid participant id"}])
    if strategy is not None and strategy not in STRATEGIES:
        raise IntakeError(f"on_conflict must be one of {', '.join(STRATEGIES)}",
                          [{"field": "on_conflict", "msg": f"expected one of {', '.join(STRATEGIES)}"}])
    return participant, strategy


def _refuse_collaboration(raw: Any, field: str) -> dict[str, str] | None:
    """Room events are decided by ingest's own routes; a plain append may not forge one."""
    if isinstance(raw, dict) and raw.get("event_type") in COLLABORATION_TYPES:
        return {"field": field, "msg": f"{raw['event_type']} is written by ingest's collaboration "
                                      "routes (participants, locks, conflicts, branches), not appended"}
    return None


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
    unknown = set(doc) - {"events", "expected_seq", "participant_id", "on_conflict", "lock_token"}
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
    participant, strategy = _writer_fields(doc)
    token = doc.get("lock_token")
    if token is not None and (not isinstance(token, int) or isinstance(token, bool)
                              or not 1 <= token <= MAX_INT64):
        raise IntakeError("lock_token must be a positive integer (a lease's fencing token)",
                          [{"field": "lock_token", "msg": "must be a positive integer"}])
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
        if forged := _refuse_collaboration(raw, f"events.{i}.event_type"):
            errors.append(forged)
            continue
        try:
            events.append(parse_new_event(raw, session_id=session_id, tenant_id=tenant_id))
        except EventValidationError as exc:
            errors.extend(_prefixed(f"events.{i}.", exc))
    if errors:
        raise IntakeError("; ".join(f"{e['field']}: {e['msg']}" for e in errors), errors)
    return Batch(events, expected, participant, strategy, token)


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
    if forged := _refuse_collaboration(doc, "event_type"):
        raise IntakeError(f"event_type: {forged['msg']}", [forged])
    if not doc.get("session_id"):
        raise IntakeError("session_id: required on topic records",
                          [{"field": "session_id", "msg": "required on topic records"}])
    try:
        return parse_new_event(doc, tenant_id=doc.get("tenant_id") or default_tenant)
    except EventValidationError as exc:
        errors = _prefixed("", exc)
        raise IntakeError("; ".join(f"{e['field']}: {e['msg']}" for e in errors), errors) from exc
