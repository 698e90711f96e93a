"""One validation pass for the events consumers read all day: current and well-formed.

``Event``'s general validation handles any event: it upcasts an old ``schema_version``,
looks for NUL characters, picks the payload's model by ``event_type`` in a Python
validator that validates the payload in a second call, and checks the ``turn_id`` rules
in a third. Every consumer decodes every event (five decodes of each on the stack), and
those Python steps were a third of a decode.

Here each event type gets an envelope model of its own whose field types say the same
in terms pydantic-core checks in one pass: ``event_type`` a literal, ``schema_version``
exactly the current version (a strict int), the payload its own model, ``turn_id``
required for a turn and null for anything else; every other field is ``Event``'s own.
A union tagged by ``event_type`` picks the model. An event it accepts is built as an
``Event`` without a second validation; anything else (an old version, an unknown type,
a broken rule, garbage) returns None and goes the general way, which decides and words
the error. The input is the dict orjson decoded, as for the general way, so both read
the same JSON; and the caller tries this only for text that holds no NUL escape
(``storable.nul_free_text``), the one check the general way makes on the raw text. So
the fast way can only be faster, never answer differently (a property test compares
both on valid and broken events of every type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    create_model,
)

from ._base import NonNegInt
from .envelope import Event, validate_traceparent
from .registry import CURRENT_SCHEMA_VERSIONS, EVENT_TYPES

_SPECIAL = ("event_type", "schema_version", "turn_id", "traceparent", "payload")
_CONFIG = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


def _current_model(event_type: str, payload: type[BaseModel]) -> type[BaseModel]:
    """The envelope of a current `event_type`, in `Event`'s field order."""
    version = CURRENT_SCHEMA_VERSIONS[event_type]
    special: dict[str, tuple[Any, Any]] = {
        "event_type": (Literal[event_type], ...),
        "schema_version": (Annotated[int, Strict(), Field(ge=version, le=version)], ...),
        "turn_id": (NonNegInt, ...) if event_type == "turn.recorded" else (None, None),
        "traceparent": (Annotated[str, AfterValidator(validate_traceparent)] | None, None),
        "payload": (payload, ...),
    }
    fields = {name: special.get(name, (info.annotation, info)) for name, info in Event.model_fields.items()}
    name = "Current_" + event_type.replace(".", "_")
    return create_model(name, __config__=_CONFIG, **fields)  # type: ignore[call-overload]


# Event's rules as the one-pass models state them (the types in `_current_model`). A rule
# added to Event (or a field renamed) must be stated there too: refuse to run until it is.
_MIRRORED = {"field_validators": {"_known_type", "_traceparent", "_typed_payload"},
             "model_validators": {"_turn_id_rules", "_upcast"}}
_rules = {kind: set(getattr(Event.__pydantic_decorators__, kind)) for kind in _MIRRORED}
if _rules != _MIRRORED or not set(_SPECIAL) <= set(Event.model_fields):
    raise RuntimeError(f"Event's validators or fields changed ({_rules}): mirror them in fast_decode")

_CURRENT: TypeAdapter[Any] = TypeAdapter(Annotated[  # type: ignore[arg-type]
    Union[tuple(_current_model(t, p) for t, p in EVENT_TYPES.items())],  # noqa: UP007 (a runtime tuple)
    Field(discriminator="event_type")])
_new = object.__new__
_set = object.__setattr__
_FIELDS = tuple(Event.model_fields)


def _event(values: dict[str, Any], fields_set: set[str]) -> Event:
    event = _new(Event)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", fields_set)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def decode_current(data: dict[str, Any]) -> Event | None:
    """The `Event` in `data` when it is current and valid, else None (module docstring).

    `data` must come from JSON text without a NUL escape (`nul_free_text`).
    """
    try:
        current = _CURRENT.validate_python(data)
    except ValidationError:
        return None
    return _event(current.__dict__, current.__pydantic_fields_set__)


def trusted_event(values: Mapping[str, Any]) -> Event:
    """An `Event` of values already valid, one for every field: `Event.model_construct`
    without its per-field alias and default lookups (ingest builds each logged event so).

    Nothing is validated: the caller vouches for every value (a `NewEvent`'s, ingest's
    own seq, ids and times). A missing field is a KeyError, not a default.
    """
    return _event({name: values[name] for name in _FIELDS}, set(_FIELDS))
