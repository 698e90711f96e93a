"""The bundle's wire formats: JSON (the canonical one) and MessagePack.

A MessagePack bundle is the JSON bundle's document, packed: the same keys, items and
hashes (section hashes are over each item's canonical JSON, whatever format carried
it), so a bundle converts between the formats with nothing lost. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import msgpack
import orjson

from lifeline_snapshot.errors import BundleError

JSON = "application/json"
MSGPACK = "application/msgpack"
_MSGPACK_TYPES = (MSGPACK, "application/x-msgpack")


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def wants_msgpack(accept: str | None) -> bool:
    """Whether an Accept header prefers MessagePack to JSON (JSON on a tie or when absent)."""
    best = {JSON: 0.0, MSGPACK: 0.0}
    for media, q in _media_ranges(accept or ""):
        if media in _MSGPACK_TYPES:
            best[MSGPACK] = max(best[MSGPACK], q)
        elif media in (JSON, "application/*", "*/*"):
            best[JSON] = max(best[JSON], q if media == JSON else q * 0.999)
    return best[MSGPACK] > best[JSON]


def is_msgpack(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in _MSGPACK_TYPES


def json_to_msgpack(body: bytes) -> bytes:
    """A JSON bundle's document as MessagePack."""
    return msgpack.packb(orjson.loads(body), use_bin_type=True)


def parse_msgpack(body: bytes) -> Any:
    """A MessagePack bundle's document; BundleError naming the body if it is not one."""
    try:
        return msgpack.unpackb(body, raw=False)
    except (ValueError, TypeError) as exc:  # ExtraData, FormatError, StackError are ValueErrors
        raise BundleError([{"field": "body", "msg": f"not MessagePack: {exc}"}]) from None
