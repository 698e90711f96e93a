"""Canonical JSON and content hashes of session state.

Snapshots are deduplicated by ``content_hash`` and replicas compare states by it, so
the bytes must depend only on the state's content: keys sorted at every level, no
whitespace, UTC datetimes, floats in shortest round-trip form (orjson's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, cast

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from .state import SessionState, _absent

_JSON_ALREADY = {"confirmed_facts"}
"""``SessionState`` fields whose values are plain JSON already (validated ``JsonValue``):
orjson writes them as pydantic's JSON dump would, without its per-value union walk,
the larger part of a state's dump."""

_FLAT_TYPES: frozenset[Any] = frozenset({int, float, str, bool, int | None, float | None,
                                         str | None, bool | None})
_PLAIN_TYPES: frozenset[Any] = _FLAT_TYPES | {tuple[str, ...], dict[str, int]}
"""Types whose validated value orjson writes as pydantic's JSON dump does (a tuple as an
array): `SessionState`'s own fields of these types are written from its ``__dict__``."""
_FLAT_SEQUENCES = ("objectives", "pins", "episodes", "recent_turns", "summary_lines")
_FLAT_MAPPINGS = ("flags", "model_stats")
_FLAT_MODELS = ("limits",)
_NESTED = ("room", "branched_from")
"""Optional models, left out when absent (`exclude_if`, so states without them hash as
before) and dumped by pydantic when present."""
_BY_HAND = {*_JSON_ALREADY, *_FLAT_SEQUENCES, *_FLAT_MAPPINGS, *_FLAT_MODELS}
_PLAIN = tuple(name for name in SessionState.model_fields if name not in {*_BY_HAND, *_NESTED})


def _as_stored(field: Any) -> bool:
    """Serialised under its own name, always, by no serializer of its own."""
    return (field.alias is None and field.serialization_alias is None and not field.exclude
            and getattr(field, "exclude_if", None) is None)


def _is_flat(model: type[BaseModel]) -> bool:
    """Every field a JSON scalar, serialised as stored: the instance's ``__dict__`` is its
    JSON dump, so orjson can write it directly."""
    return all(f.annotation in _FLAT_TYPES and _as_stored(f)
               for f in model.model_fields.values()) and not model.__pydantic_decorators__.field_serializers


def _element_model(name: str) -> type[BaseModel]:
    """The model a `SessionState` field holds: `tuple[M, ...]`, `dict[str, M]` or `M`."""
    annotation = SessionState.model_fields[name].annotation
    args = [arg for arg in getattr(annotation, "__args__", ()) if arg is not Ellipsis]
    return cast(type[BaseModel], args[-1] if args else annotation)


if not all(_is_flat(_element_model(n)) for n in (*_FLAT_SEQUENCES, *_FLAT_MAPPINGS, *_FLAT_MODELS)):
    raise TypeError("a SessionState part written by hand in canonical_json is no longer flat JSON")


def _state_is_plain() -> bool:
    """`SessionState`'s own fields are written as `_session_state_json` assumes: plain ones
    from its ``__dict__``, the nested models left out when absent, no serializer anywhere."""
    fields = SessionState.model_fields
    decorators = SessionState.__pydantic_decorators__
    return (not decorators.field_serializers and not decorators.model_serializers
            and all(fields[n].annotation in _PLAIN_TYPES and _as_stored(fields[n]) for n in _PLAIN)
            and all(_as_stored(fields[n]) for n in _BY_HAND)
            and all(fields[n].alias is None and fields[n].serialization_alias is None
                    and getattr(fields[n], "exclude_if", None) is _absent for n in _NESTED))


if not _state_is_plain():
    raise TypeError("a SessionState field that canonical_json writes from its __dict__ is not plain JSON")


def _session_state_json(state: SessionState) -> bytes:
    """The state's canonical bytes, its flat parts (turns, summary lines, pins, episodes,
    objectives, flags, model statistics, limits) written from their ``__dict__``: pydantic's
    dump of those, model by model, was two thirds of a dump (~14 → ~9 µs for a 7 KB state;
    replay, snapshot and trace-store dump every session of every batch, issue 10). So are
    the state's own plain fields (ids, counters, stage, summary text): pydantic's dump of
    them with the rest excluded still cost about a third of what was left."""
    fields = state.__dict__
    data: Any = {name: fields[name] for name in _PLAIN}
    for name in _NESTED:
        nested = fields[name]
        if nested is not None:
            data[name] = nested.model_dump(mode="json")
    data["confirmed_facts"] = state.confirmed_facts
    for name in _FLAT_SEQUENCES:
        data[name] = [part.__dict__ for part in getattr(state, name)]
    for name in _FLAT_MAPPINGS:
        data[name] = {key: part.__dict__ for key, part in getattr(state, name).items()}
    for name in _FLAT_MODELS:
        data[name] = getattr(state, name).__dict__
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def canonical_json(state: BaseModel | Mapping[str, Any]) -> bytes:
    """Serialise a state (model or its JSON-able dict) to canonical bytes.

    A dict gives the same bytes as the model it was dumped from, so a hash taken over
    a snapshot's stored JSON still verifies after the state model gains fields.
    """
    if type(state) is SessionState:
        return _session_state_json(state)
    if isinstance(state, BaseModel):
        data: Any = state.model_dump(mode="json")
    else:
        data = to_jsonable_python(state)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_hash(state: BaseModel | Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``canonical_json(state)``."""
    return hashlib.sha256(canonical_json(state)).hexdigest()
