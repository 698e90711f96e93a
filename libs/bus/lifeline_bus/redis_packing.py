"""Redis commands packed by hiredis (C), as redis-py's synchronous client already does.

redis-py packs a command into the RESP protocol with hiredis when hiredis is installed —
in its synchronous client. Its asyncio client, which every Lifeline service uses, always
packs in Python: ~7 µs for the relay's XADD of a 1 KB event (~1 µs with hiredis), and an
argument at a time for a consumer's XACK of 2,000 ids or replay's hot-stream script of a
session's whole run. On the stack the relay alone spent 7 % of ingest's CPU in a burst
packing XADDs.

`connection_class(url)` gives the connection class to pass to `redis.asyncio.from_url`
(and to FastStream's `RedisBroker`): redis-py's own, with `pack_command` answered by
`hiredis.pack_command`. Only arguments whose bytes the two packers agree on go that way
(bytes, str, int that is not a bool); anything else — a float, a memoryview, a type
redis-py refuses — is packed by redis-py's code, which formats or refuses it as before.
A property test compares the bytes of both packers.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection

_UTF8 = frozenset({"utf-8", "utf8"})


class _HiredisPacking(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        encoder = self.encoder
        if encoder.encoding not in _UTF8 or encoder.encoding_errors != "strict":
            return super().pack_command(*args)
        for arg in args:
            kind = type(arg)
            if kind is not bytes and kind is not str and kind is not int:
                return super().pack_command(*args)
        first, packed = args[0], args  # a multi-word command name ("CONFIG GET") is split
        if type(first) is str:         # as redis-py splits it
            packed = (*first.encode().split(), *args[1:])
        elif b" " in first:
            packed = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(packed)]
        except (TypeError, ValueError):  # e.g. a str that is no UTF-8: redis-py says why
            return super().pack_command(*args)


class HiredisConnection(_HiredisPacking, Connection):
    """redis-py's TCP connection, commands packed by hiredis."""


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    """redis-py's TLS connection, commands packed by hiredis."""


def connection_class(url: str) -> type[AbstractConnection] | None:
    """The class for `url`'s scheme (None for a Unix socket: redis-py's default stays)."""
    scheme = url.partition("://")[0].lower()
    return {"redis": HiredisConnection, "rediss": HiredisSSLConnection}.get(scheme)


def connection_options(url: str) -> dict[str, Any]:
    """`connection_class=…` for `redis.asyncio.from_url` / `RedisBroker`, or nothing."""
    chosen = connection_class(url)
    return {} if chosen is None else {"connection_class": chosen}
