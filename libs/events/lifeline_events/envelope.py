"""The event envelope: ``NewEvent`` (what producers submit) and ``Event`` (what is
stored and published), plus the boundary parsers that raise ``EventValidationError``.

Validation order, so every path (``model_validate``, ``parse_new_event``,
``Event.from_json``) behaves the same: upcast an old ``schema_version`` to the
current one, check ``event_type`` against the registry, validate ``payload`` with
that type's model, then the cross-field rules (``turn_id`` belongs to turns only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticOmit

from ._base import MAX_INT64, BoundedUtcDatetime, NonNegInt, ScopeId, UtcDatetime
from .acts import ACT_OPS
from .errors import EventValidationError, load_json_object
from .ids import new_event_id
from .payloads import PayloadModel
from .registry import CURRENT_SCHEMA_VERSIONS, EVENT_TYPES, UpcastError, upcast
from .storable import NUL_FREE, nul_free_text, refuse_nul

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_ZERO_TRACE_ID, _ZERO_PARENT_ID = "0" * 32, "0" * 16

EventType = Annotated[str, Field(json_schema_extra={"enum": sorted(EVENT_TYPES)})]


def _field_error(loc: str, kind: str, msg: str, value: Any) -> ValidationError:
    """A ValidationError at ``loc``; raised inside a validator, pydantic merges it."""
    return ValidationError.from_exception_data(
        "Event",
        [InitErrorDetails(type=PydanticCustomError(kind, msg), loc=(loc,), input=value)],
    )


def validate_traceparent(value: str) -> str:
    """Check a W3C ``traceparent`` (version 00, non-zero ids, lowercase hex)."""
    match = _TRACEPARENT.match(value)
    if match is None:
        raise ValueError(
            "traceparent must be W3C trace context '00-<32 hex>-<16 hex>-<2 hex>' "
            "in lowercase hex"
        )
    if match.group(1) == _ZERO_TRACE_ID or match.group(2) == _ZERO_PARENT_ID:
        raise ValueError("traceparent trace-id and parent-id must not be all zeros")
    return value


_REF_MODEL_NAME = re.compile(r"(?:/|__)([A-Za-z0-9]+)(?:-[A-Za-z]+__\d+)?$")


def _ref_model_name(ref: str) -> str:
    """``#/$defs/pkg__mod__Name-Input__1`` or ``#/components/schemas/Name`` → ``Name``."""
    match = _REF_MODEL_NAME.search(ref)
    return match.group(1) if match else ref


def _payload_by_event_type(schema: dict[str, Any]) -> None:
    """JSON Schema: tie ``payload`` to ``event_type`` with one if/then per type.

    Reuses the refs pydantic emitted for the payload union (internal names such as
    ``…__payloads__TurnRecorded-Input__1``, remapped later), so it is right for any
    ref template.
    """
    variants = schema.get("properties", {}).get("payload", {}).get("anyOf", [])
    refs = {_ref_model_name(v["$ref"]): v["$ref"] for v in variants if "$ref" in v}
    schema["allOf"] = [
        {
            "if": {"properties": {"event_type": {"const": event_type}}},
            "then": {"properties": {"payload": {"$ref": refs[model.__name__]}}},
        }
        for event_type, model in sorted(EVENT_TYPES.items())
        if model.__name__ in refs
    ]


_ENVELOPE_CONFIG = ConfigDict(
    frozen=True, extra="forbid", allow_inf_nan=False, json_schema_extra=_payload_by_event_type
)


class _Envelope(BaseModel):
    """Fields and rules shared by ``NewEvent`` and ``Event``."""

    model_config = _ENVELOPE_CONFIG

    event_type: EventType
    schema_version: int = Field(
        1, ge=1, le=1000, description="upcast to the current version on read"
    )
    person_id: ScopeId | None = None
    turn_id: NonNegInt | None = Field(None, description="idempotency key of a turn.recorded")
    traceparent: str | None = None
    payload: PayloadModel

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        version, event_type = data.get("schema_version"), data.get("event_type")
        # a current event would come back as an equal copy; an event_type that is no
        # string (a list would be a TypeError) has nothing to upcast, its field says so
        typed = isinstance(event_type, str)
        versions: dict[Any, int] = CURRENT_SCHEMA_VERSIONS
        current = typed and type(version) is int and version == versions.get(event_type)
        if typed and not current:
            try:
                data = upcast(data)
            except UpcastError as exc:
                raise _field_error("schema_version", "unsupported_version", str(exc), version) from None
        # an upcaster may rewrite strings, so only a current event skips the check
        if not (current and info.context is NUL_FREE):
            refuse_nul(data)
        if "payload" not in data:
            data = {**data, "payload": {}}
        return data

    @field_validator("event_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(
                f"unknown event_type {value!r}; expected one of: {', '.join(sorted(EVENT_TYPES))}"
            )
        return value

    @field_validator("traceparent")
    @classmethod
    def _traceparent(cls, value: str | None) -> str | None:
        return None if value is None else validate_traceparent(value)

    @field_validator("payload", mode="before")
    @classmethod
    def _typed_payload(cls, value: Any, info: ValidationInfo) -> Any:
        model = EVENT_TYPES.get(info.data.get("event_type", ""))
        if model is None:
            raise PydanticOmit  # event_type is already reported; a payload error is noise
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            raise ValueError(
                f"payload of {info.data['event_type']} must be {model.__name__}, "
                f"got {type(value).__name__}"
            )
        return model.__pydantic_validator__.validate_python(value)

    @model_validator(mode="after")
    def _turn_id_rules(self) -> _Envelope:
        if self.event_type == "turn.recorded" and self.turn_id is None:
            raise _field_error(
                "turn_id", "turn_id_required", "turn_id is required for turn.recorded", None
            )
        if self.event_type != "turn.recorded" and self.turn_id is not None:
            raise _field_error(
                "turn_id",
                "turn_id_not_allowed",
                f"turn_id is the idempotency key of turn.recorded and must be null for "
                f"{self.event_type} (reference a turn in the payload instead)",
                self.turn_id,
            )
        return self

    def to_json_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no whitespace, UTC times), payload included."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


class NewEvent(_Envelope):
    """An event as a producer submits it; ingest assigns what is missing."""

    event_id: UUID | None = None
    tenant_id: ScopeId | None = None
    session_id: ScopeId | None = None
    occurred_at: BoundedUtcDatetime | None = None


class Event(_Envelope):
    """An accepted event: stored in the log and published in per-session ``seq`` order.

    Unknown envelope fields are ignored (tolerant reader), so a consumer keeps working
    when ingest adds a column; unknown *payload* fields are still errors.
    """

    model_config = ConfigDict(
        frozen=True, extra="ignore", allow_inf_nan=False, json_schema_extra=_payload_by_event_type
    )

    event_id: UUID
    tenant_id: ScopeId
    session_id: ScopeId
    seq: int = Field(ge=1, le=MAX_INT64, description="per-session, gapless, assigned by ingest")
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime

    @classmethod
    def from_json(cls, data: bytes | bytearray | str | dict[str, Any]) -> Event:
        """Decode and validate a stored/published event, upcasting old versions.

        Raises ``EventValidationError`` (never pydantic's error).
        """
        raw = load_json_object(data)
        nul_free = nul_free_text(data)
        if nul_free and cls is Event and (event := decode_current(raw)) is not None:
            return event  # the one-pass way (fast_decode.py); None goes the general way
        try:
            return cls.model_validate(raw, context=NUL_FREE if nul_free else None)
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(exc, union_tags=ACT_OPS) from None

    @classmethod
    def from_new(
        cls,
        new: NewEvent,
        *,
        seq: int,
        recorded_at: datetime | None = None,
        tenant_id: str | None = None,
        session_id: str | None = None,
    ) -> Event:
        """Accept ``new`` into the log: assign ``seq``, ids and times it lacks.

        ``event_id`` defaults to a new UUID v7, ``recorded_at`` to now (UTC) and
        ``occurred_at`` to ``recorded_at``; ``tenant_id``/``session_id`` fill the gaps
        the producer left (the event's own values win).
        """
        recorded = recorded_at or datetime.now(UTC)
        data = new.model_dump()
        data.update(
            event_id=new.event_id or new_event_id(),
            tenant_id=new.tenant_id or tenant_id,
            session_id=new.session_id or session_id,
            occurred_at=new.occurred_at or recorded,
            recorded_at=recorded,
            seq=seq,
            payload=new.payload,
        )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(exc, union_tags=ACT_OPS) from None


# The one-pass decoder builds its models from Event's fields: imported once Event exists.
from .fast_decode import decode_current  # noqa: E402
