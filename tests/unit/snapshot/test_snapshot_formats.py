"""Bundle wire formats: Accept negotiation, and a JSON bundle packed to MessagePack and back is
the same document (hashes still verify)."""

from __future__ import annotations

import orjson
import pytest

from lifeline_snapshot.errors import BundleError
from lifeline_snapshot.export.formats import is_msgpack, json_to_msgpack, parse_msgpack, wants_msgpack


@pytest.mark.parametrize(("accept", "packed"), [
    (None, False), ("", False), ("*/*", False), ("application/json", False),
    ("application/msgpack", True), ("application/x-msgpack", True),
    ("application/json, application/msgpack", False),  # a tie keeps JSON
    ("application/json;q=0.5, application/msgpack", True),
    ("application/msgpack;q=0.2, application/json", False),
    ("*/*, application/msgpack", True),  # the explicit type beats the wildcard
    ("application/msgpack;q=0", False),
])
def test_accept_picks_msgpack_only_when_preferred(accept: str | None, packed: bool) -> None:
    """MessagePack only when Accept ranks it above JSON; JSON on a tie, a wildcard or no header."""
    assert wants_msgpack(accept) is packed


def test_content_type_names_msgpack() -> None:
    """Both registered spellings, with parameters, in any case; JSON and none are not."""
    assert is_msgpack("application/msgpack") and is_msgpack("Application/X-MsgPack; charset=binary")
    assert not is_msgpack("application/json") and not is_msgpack(None)


def test_msgpack_round_trip_is_exact() -> None:
    """Every JSON value kind survives JSON → MessagePack → document unchanged, floats and unicode too."""
    document = {"format": "lifeline.session-export", "version": 1, "n": -2**63, "big": 2**64 - 1,
                "f": 0.1, "e": 1e-300, "t": True, "z": None, "s": "dé jà 🎲 \u0000x",
                "events": [{"payload": {"acts": [], "nested": {"k": [1, 2.5, "3"]}}}], "empty": {}}
    body = orjson.dumps(document)
    assert parse_msgpack(json_to_msgpack(body)) == orjson.loads(body) == document


def test_a_body_that_is_not_msgpack_names_the_body() -> None:
    """Truncated or trailing bytes are a BundleError on `body`, not a server error."""
    packed = json_to_msgpack(b'{"events": [1, 2, 3]}')
    for bad in (packed[:-1], packed + b"\x01", b"\xc1"):
        with pytest.raises(BundleError) as caught:
            parse_msgpack(bad)
        assert caught.value.errors[0]["field"] == "body"
