"""The library's error types and the conversion from pydantic's.

    LifelineError
     └── EventsError                  base of this library's errors
          ├── EventValidationError    bad input (also InvalidInputError): names each failing field
          ├── UpcastError             an event's version cannot be brought current (registry)
          └── SessionMismatchError    fold given an event of another session/tenant

None derives from ``ValueError``: a caller catches them by name. Inside pydantic
validators they are never raised as such: the envelope's upcast validator turns an
``UpcastError`` into a pydantic error at ``schema_version``, so parsing still reports it
as an ``EventValidationError`` field.

Callers at a boundary (HTTP, topic consumer) see ``EventValidationError`` only, never
``pydantic.ValidationError``, so they can map it to a 422 or a DLQ record without
knowing how validation is implemented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from lifeline_common.errors import InvalidInputError, LifelineError

_PREFIXES = ("Value error, ", "Assertion failed, ")


def format_loc(loc: Iterable[str | int]) -> str:
    """Join a pydantic location tuple into a dotted path (``payload.acts.0.key``)."""
    return ".".join(str(part) for part in loc)


_FRIENDLIER = {
    "extra_forbidden": "unknown field (not in the schema; check the spelling)",
    "missing": "field required",
}


def _clean_msg(msg: str, kind: str = "") -> str:
    if kind in _FRIENDLIER:
        return _FRIENDLIER[kind]
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _drop_union_tags(loc: Sequence[str | int], tags: frozenset[str]) -> list[str | int]:
    """Remove the discriminator tag pydantic inserts after ``acts.<i>``.

    ``payload.acts.0.set_stage.stage`` names a field that does not exist on the wire;
    ``payload.acts.0.stage`` is what the producer has to fix.
    """
    out: list[str | int] = []
    for part in loc:
        if (
            len(out) >= 2
            and out[-2] == "acts"
            and isinstance(out[-1], int)
            and isinstance(part, str)
            and part in tags
        ):
            continue
        out.append(part)
    return out


class EventsError(LifelineError):
    """Base of the events library's errors."""


class EventValidationError(EventsError, InvalidInputError):
    """An event (or a field of one) is invalid.

    ``errors`` is a list of ``{"loc": "payload.role", "msg": "...", "type": "..."}``
    dicts; ``loc`` is a dotted path relative to the event ("" for the whole body).
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        listed: list[dict[str, Any]] = [
            {"loc": str(e.get("loc", "")), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
            for e in errors
        ] or [{"loc": "", "msg": "invalid event", "type": "invalid"}]
        self.errors = listed
        super().__init__(self._render(), listed)

    def _render(self) -> str:
        n = len(self.errors)
        head = f"{n} validation error{'s' if n != 1 else ''} in event"
        parts = [f"{e['loc'] or '<event>'}: {e['msg']}" for e in self.errors]
        return f"{head}: " + "; ".join(parts)

    def with_prefix(self, prefix: str) -> EventValidationError:
        """Return a copy whose locations sit under ``prefix`` (e.g. ``events.3``).

        A batch endpoint uses this to point at the failing element of its body.
        """
        return EventValidationError(
            [{**e, "loc": f"{prefix}.{e['loc']}" if e["loc"] else prefix} for e in self.errors]
        )

    @classmethod
    def from_pydantic(
        cls, exc: ValidationError, *, union_tags: frozenset[str] = frozenset()
    ) -> EventValidationError:
        """Translate pydantic's error list, keeping field paths and messages."""
        return cls(
            [
                {
                    "loc": format_loc(_drop_union_tags(err["loc"], union_tags)),
                    "msg": _clean_msg(err["msg"], err["type"]),
                    "type": err["type"],
                }
                for err in exc.errors(include_url=False)
            ]
        )

    @classmethod
    def single(cls, loc: str, msg: str, type_: str = "value_error") -> EventValidationError:
        """One error at one location."""
        return cls([{"loc": loc, "msg": msg, "type": type_}])


class SessionMismatchError(EventsError):
    """The fold was handed an event that belongs to another session or tenant.

    That is a wiring bug in the caller (events of two sessions interleaved), so it is
    raised rather than silently skipped.
    """


def load_json_object(raw: Mapping[str, Any] | bytes | bytearray | memoryview | str) -> dict:
    """Decode a JSON object body, or raise ``EventValidationError`` at loc ``""``."""
    if not isinstance(raw, bytes | bytearray | str):  # text first: the ABC check costs more
        if isinstance(raw, Mapping):
            return dict(raw)
        if not isinstance(raw, memoryview):
            raise EventValidationError.single(
                "", f"expected a JSON object, got {type(raw).__name__}", "type_error"
            )
        raw = raw.tobytes()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventValidationError.single(
            "", f"body is not valid JSON: {exc}", "json_invalid"
        ) from exc
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "null"
        raise EventValidationError.single(
            "", f"expected a JSON object, got a JSON {_json_kind(kind)}", "type_error"
        )
    return data


def _json_kind(py_kind: str) -> str:
    return {"list": "array", "str": "string", "int": "number", "float": "number",
            "bool": "boolean"}.get(py_kind, py_kind)
