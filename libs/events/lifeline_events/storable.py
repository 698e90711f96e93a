"""What PostgreSQL cannot store, refused at validation rather than at the write (pure).

A value that passes the schema but fails the statement turns a producer's mistake into a
500 (and, before the group commit isolated failures, into its neighbours' 500s too).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


def nul_locations(value: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where a NUL character hides in a JSON-like value (in a key or a string).

    PostgreSQL stores no ``\\u0000`` in ``text`` or ``jsonb``; a value carrying one would
    pass the schema and fail the write, so the envelope refuses it up front.
    """
    if isinstance(value, str):
        return [loc] if "\x00" in value else []
    if isinstance(value, dict):
        found: list[tuple[str | int, ...]] = []
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                found.append((*loc, key.replace("\x00", "\\u0000")))
            found.extend(nul_locations(item, (*loc, key)))
        return found
    if isinstance(value, list | tuple):
        return [where for i, item in enumerate(value) for where in nul_locations(item, (*loc, i))]
    return []


def may_hold_nul(data: dict[str, Any]) -> bool:
    """False only when no string in ``data`` can hold a NUL (one C pass, no Python walk).

    orjson writes every NUL in a key or value as ``\\u0000``, so its absence from the
    encoded bytes proves there is none; a false positive (a literal backslash-u0000, a
    value orjson cannot encode) only sends the data to the exact walk.
    """
    try:
        return b"\\u0000" in orjson.dumps(data)
    except TypeError:
        return True


NUL_FREE: dict[str, Any] = {"nul_free": True}
"""Validation context for data decoded from JSON text that ``nul_free_text`` cleared."""


def nul_free_text(raw: object) -> bool:
    """True when JSON text ``raw`` cannot decode to a key or string holding a NUL.

    Valid JSON spells a NUL only as the escape ``\\u0000`` (a raw control character is
    a syntax error), so text without that escape needs no walk after decoding; text
    with it (or a literal backslash-u0000) gets the exact walk.
    """
    if isinstance(raw, bytes | bytearray):
        return b"\\u0000" not in raw
    return isinstance(raw, str) and "\\u0000" not in raw


def refuse_nul(data: dict[str, Any]) -> None:
    """Raise one pydantic error per string (key or value, at any depth) holding a NUL."""
    if not may_hold_nul(data):
        return
    where = nul_locations(data)
    if where:
        raise ValidationError.from_exception_data("Event", [
            InitErrorDetails(
                type=PydanticCustomError(
                    "nul_character", "must not contain a NUL character (\\u0000)"),
                loc=loc, input="<NUL>")
            for loc in where
        ])
