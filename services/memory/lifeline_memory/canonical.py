"""Canonical forms shared by digests, profiles and bias: times, rounding, hashes (pure).

Byte-identity is the contract (same log, same bytes), so every float is rounded
before it is hashed and every datetime is written one way: UTC, ``Z``, microseconds
only when present.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson


def iso(at: datetime) -> str:
    """UTC ISO 8601 with ``Z``."""
    text = at.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def r4(x: float) -> float:
    """Output precision (the wire)."""
    return round(x, 4) + 0.0


def r6(x: float) -> float:
    """Weight precision (inputs to sums)."""
    return round(x, 6) + 0.0


def dumps(data: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def sha256_of(data: Any) -> str:
    return hashlib.sha256(dumps(data)).hexdigest()
