"""Commands packed by hiredis are the bytes redis-py's own packer writes (redis_packing.py).

The oracle is redis-py's asyncio `Connection.pack_command`, which every command went
through before. For any arguments — bytes, text in any script or with whitespace in the
command name, integers of any size, and the types hiredis is not given (floats, bools,
None, memoryviews) — both give the same bytes, or both refuse with the same error.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection

from lifeline_bus.redis_packing import (
    HiredisConnection,
    HiredisSSLConnection,
    connection_class,
    connection_options,
)

ARGS = st.one_of(
    st.binary(max_size=64), st.text(max_size=32), st.integers(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True), st.booleans(), st.none(),
    st.binary(max_size=16).map(memoryview), st.binary(max_size=16).map(bytearray),
    st.sampled_from(["CONFIG GET", "CLIENT  SETINFO", b"CONFIG GET", "a\tb", "ü é", "\ud800"]),
)


def packed(connection: Any, args: tuple[Any, ...]) -> bytes | str:
    try:
        return b"".join(bytes(chunk) for chunk in connection.pack_command(*args))
    except Exception as exc:  # the refusal is part of the answer
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=600, deadline=None, database=None)
@given(st.one_of(st.text(min_size=1, max_size=12), st.binary(min_size=1, max_size=12),
                 st.sampled_from(["XADD", "EVALSHA", "CONFIG GET", b"XACK"])),
       st.lists(ARGS, max_size=12))
def test_hiredis_packs_the_bytes_redis_py_packs(command: str | bytes, rest: list[Any]) -> None:
    args = (command, *rest)
    assert packed(HiredisConnection(), args) == packed(Connection(), args)


def test_an_event_publish_is_packed_by_hiredis() -> None:
    """The relay's XADD takes the hiredis way (not the fallback), and says the same."""
    args = ("XADD", "lifeline.events.v1", "MAXLEN", "~", 1_000_000, "*", "data", b"{}" * 400,
            "key", "s-1", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    ours = HiredisConnection().pack_command(*args)
    assert len(ours) == 1  # one buffer from hiredis; redis-py's packer splits large values
    assert ours[0] == packed(Connection(), args)


def test_the_class_follows_the_url_scheme() -> None:
    assert connection_class("redis://localhost:6379/0") is HiredisConnection
    assert connection_class("rediss://cache:6380") is HiredisSSLConnection
    assert connection_class("unix:///tmp/valkey.sock") is None
    assert connection_options("unix:///tmp/valkey.sock") == {}
    assert issubclass(HiredisSSLConnection, SSLConnection)
    assert not issubclass(HiredisConnection, UnixDomainSocketConnection)
