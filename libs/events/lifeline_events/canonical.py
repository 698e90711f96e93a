"""Canonical JSON and content hashes of session state.

Snapshots are deduplicated by ``content_hash`` and replicas compare states by it, so
the bytes must depend only on the state's content: keys sorted at every level, no
whitespace, UTC datetimes, floats in shortest round-trip form (orjson's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from .state import SessionState

_JSON_ALREADY = {"confirmed_facts"}
"""``SessionState`` fields whose values are plain JSON already (validated ``JsonValue``):
orjson writes them as pydantic's JSON dump would, without its per-value union walk,
the larger part of a state's dump."""


def canonical_json(state: BaseModel | Mapping[str, Any]) -> bytes:
    """Serialise a state (model or its JSON-able dict) to canonical bytes.

    A dict gives the same bytes as the model it was dumped from, so a hash taken over
    a snapshot's stored JSON still verifies after the state model gains fields.
    """
    if type(state) is SessionState:
        data: Any = state.model_dump(mode="json", exclude=_JSON_ALREADY)
        data["confirmed_facts"] = state.confirmed_facts
    elif isinstance(state, BaseModel):
        data = state.model_dump(mode="json")
    else:
        data = to_jsonable_python(state)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_hash(state: BaseModel | Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``canonical_json(state)``."""
    return hashlib.sha256(canonical_json(state)).hexdigest()
