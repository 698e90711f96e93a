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

A producer's `NewEvent` (ingest's intake, every HTTP append and topic record) gets the
same treatment after the general way's first step, the upcast: most producers leave
`schema_version` out, which means version 1, so a turn is upcast before either way
validates it.
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
from .envelope import Event, NewEvent, validate_traceparent
from .registry import CURRENT_SCHEMA_VERSIONS, EVENT_TYPES, UpcastError, upcast
from .storable import may_hold_nul

_SPECIAL = ("event_type", "schema_version", "turn_id", "traceparent", "payload")
Envelope = type[Event] | type[NewEvent]


def _current_model(envelope: Envelope, event_type: str, payload: type[BaseModel]) -> type[BaseModel]:
    """`envelope` (Event or NewEvent) at a current `event_type`, in its field order."""
    version = CURRENT_SCHEMA_VERSIONS[event_type]
    special: dict[str, tuple[Any, Any]] = {
        "event_type": (Literal[event_type], ...),
        "schema_version": (Annotated[int, Strict(), Field(ge=version, le=version)], ...),
        "turn_id": (NonNegInt, ...) if event_type == "turn.recorded" else (None, None),
        "traceparent": (Annotated[str, AfterValidator(validate_traceparent)] | None, None),
        "payload": (payload, ...),
    }
    fields = {name: special.get(name, (info.annotation, info))
              for name, info in envelope.model_fields.items()}
    config = ConfigDict(frozen=True, extra=envelope.model_config.get("extra"), allow_inf_nan=False)
    name = f"Current{envelope.__name__}_" + event_type.replace(".", "_")
    return create_model(name, __config__=config, **fields)  # type: ignore[call-overload]


# The envelopes' rules as the one-pass models state them (the types in `_current_model`). A
# rule added to them (or a field renamed) must be stated there too: refuse to run until it is.
_MIRRORED = {"field_validators": {"_known_type", "_traceparent", "_typed_payload"},
             "model_validators": {"_turn_id_rules", "_upcast"}}


def _check_mirrored(envelope: Envelope) -> None:
    rules = {kind: set(getattr(envelope.__pydantic_decorators__, kind)) for kind in _MIRRORED}
    config = envelope.model_config
    if rules != _MIRRORED or not set(_SPECIAL) <= set(envelope.model_fields) or (
            config.get("allow_inf_nan") is not False or not config.get("frozen")):
        raise RuntimeError(f"{envelope.__name__}'s validators, fields or config changed ({rules}): "
                           "mirror them in fast_decode")


_check_mirrored(Event)
_check_mirrored(NewEvent)


def _tagged_union(envelope: Envelope) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[  # type: ignore[arg-type]
        Union[tuple(_current_model(envelope, t, p) for t, p in EVENT_TYPES.items())],  # noqa: UP007
        Field(discriminator="event_type")])


_CURRENT, _CURRENT_NEW = _tagged_union(Event), _tagged_union(NewEvent)
_new = object.__new__
_set = object.__setattr__
_FIELDS = tuple(Event.model_fields)


def _event(values: dict[str, Any], fields_set: set[str], envelope: Envelope = Event) -> Any:
    event = _new(envelope)
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


def parse_current_new(data: dict[str, Any]) -> NewEvent | None:
    """The producer's `NewEvent` in `data` when valid, else None: the general way's upcast
    first (most producers leave `schema_version` out), then one pass as for `Event`.

    None sends `data` the general way, which decides and words the error; so does text
    that may hold a NUL (the general way refuses it by location).
    """
    if not isinstance(data.get("event_type"), str):  # the general way has nothing to upcast
        return None
    try:
        current = upcast(data)
    except UpcastError:
        return None
    if may_hold_nul(current):
        return None
    try:
        new = _CURRENT_NEW.validate_python(current)
    except ValidationError:
        return None
    return _event(new.__dict__, new.__pydantic_fields_set__, NewEvent)


def trusted_event(values: Mapping[str, Any]) -> Event:
    """An `Event` of values already valid, one for every field: `Event.model_construct`
    without its per-field alias and default lookups (ingest builds each logged event so).

    Nothing is validated: the caller vouches for every value (a `NewEvent`'s, ingest's
    own seq, ids and times). A missing field is a KeyError, not a default.
    """
    return _event({name: values[name] for name in _FIELDS}, set(_FIELDS))
