"""The producer's entry point: ``parse_new_event`` for HTTP bodies and topic records.

A producer's event is validated as a ``NewEvent``; the session and tenant the request
names (the URL path, the API key) fill the event's gaps, and a body that names others is
refused field by field rather than silently re-homed.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .acts import ACT_OPS
from .envelope import NewEvent
from .errors import EventValidationError, load_json_object
from .fast_decode import parse_current_new


def _scope_conflicts(raw: dict[str, Any], **expected: str | None) -> list[dict[str, str]]:
    errors = []
    for field, want in expected.items():
        if want is None:
            continue
        got = raw.get(field)
        if got is not None and got != want:
            errors.append(
                {
                    "loc": field,
                    "msg": f"{field} {got!r} in the body does not match {want!r}",
                    "type": f"{field}_mismatch",
                }
            )
    return errors


def parse_new_event(
    raw: dict[str, Any] | bytes | bytearray | str,
    *,
    session_id: str | None = None,
    tenant_id: str | None = None,
) -> NewEvent:
    """Validate a producer's event; the one entry point for HTTP bodies and topics.

    ``session_id``/``tenant_id`` (from the URL path and the API key) fill the event's
    fields; a body that names a *different* session or tenant is rejected, naming the
    field, rather than silently re-homed. All problems are reported together.
    """
    data = load_json_object(raw)
    errors = _scope_conflicts(data, session_id=session_id, tenant_id=tenant_id)
    if session_id is not None and data.get("session_id") is None:
        data["session_id"] = session_id
    if tenant_id is not None and data.get("tenant_id") is None:
        data["tenant_id"] = tenant_id
    if not errors and (event := parse_current_new(data)) is not None:
        return event  # the one-pass way (fast_decode.py); None goes the general way
    try:
        event = NewEvent.model_validate(data)
    except ValidationError as exc:
        errors.extend(EventValidationError.from_pydantic(exc, union_tags=ACT_OPS).errors)
        raise EventValidationError(errors) from None
    if errors:
        raise EventValidationError(errors)
    return event
