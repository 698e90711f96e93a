"""Redis adapter for replay's hot data: per-session event streams, head state, snapshot.

One Lua script writes a session's projected batch atomically: the events (XADD with
explicit ids, so a re-applied batch adds nothing), the head state and, every N events,
the snapshot, trimming the stream behind it. State keys only move forward (a write with
a lower seq is ignored), so a slow re-warm can never roll a session back. A bus batch's
sessions go in one pipeline (one round trip), one EVALSHA each: atomic per session, not
across sessions (nothing needs that: each session's writes are idempotent on their own).

Each state write is stamped with the Redis server's `run_id`. A state whose stamp is
not the running server's may predate a restart that lost the last writes (AOF is
flushed once a second), so readers check it against PostgreSQL once (`fresh`).

Redis being down is normal for replay (the recovery ladder covers it), so every
failure is raised as `HotStoreUnavailableError` and opens a short circuit breaker:
for `retry_s` callers are told "down" at once instead of each paying a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from lifeline_bus.redis_packing import connection_options
from lifeline_replay import keys
from lifeline_replay.errors import HotStoreUnavailableError


@dataclass(frozen=True)
class Folded:
    """A folded state as stored: its seq, canonical JSON, the last event's time and the
    `run_id` of the Redis server that wrote (or last confirmed) it."""

    seq: int
    state: bytes
    at: str = ""
    run_id: str = ""


_KEYS = 3
"""The script's KEYS: the stream, the head state and the snapshot."""

Entry = tuple[int, bytes]
"""A hot-stream entry: (seq, event JSON)."""
# The client answers bytes (no decode_responses); redis' stubs also allow str, hence the casts.
_Raw = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True)
class HotBatch:
    """One session's part of a bus batch: its events, new head and (if one is due) snapshot."""

    tenant: str
    session: str
    entries: Sequence[Entry]
    head: Folded
    snapshot: Folded | None = None

    def call(self, ttl_s: int) -> list[bytes | str | int]:
        """The script's KEYS (`_KEYS` of them) and ARGV, as EVALSHA takes them."""
        snap = self.snapshot or Folded(0, b"", "")
        call: list[bytes | str | int] = [keys.hot_stream(self.tenant, self.session),
                                         keys.head_state(self.tenant, self.session),
                                         keys.snapshot(self.tenant, self.session),
                                         ttl_s, self.head.seq, self.head.state, self.head.at,
                                         snap.seq, snap.state, snap.at]
        for seq, body in self.entries:
            call.extend((seq, body))
        return call

_WRITE = """
local ttl = tonumber(ARGV[1])
local rid = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
for i = 8, #ARGV, 2 do
  redis.pcall('XADD', KEYS[1], ARGV[i] .. '-1', 'e', ARGV[i + 1])
end
local function put(key, seq, state, at)
  local cur = tonumber(redis.call('HGET', key, 'seq') or '0')
  if tonumber(seq) > cur then
    redis.call('HSET', key, 'seq', seq, 'state', state, 'at', at, 'v', rid)
  elseif tonumber(seq) == cur then
    redis.call('HSET', key, 'v', rid)
  end
end
if tonumber(ARGV[2]) > 0 then put(KEYS[2], ARGV[2], ARGV[3], ARGV[4]) end
if tonumber(ARGV[5]) > 0 then
  put(KEYS[3], ARGV[5], ARGV[6], ARGV[7])
  local snap = redis.call('HGET', KEYS[3], 'seq')
  redis.call('XTRIM', KEYS[1], 'MINID', '=', snap .. '-2')
end
if ttl > 0 then
  for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ttl) end
end
return 1
"""


_FIELDS = ("seq", "state", "at", "v")


def _folded(values: Sequence[bytes | None]) -> Folded | None:
    seq, state, at, run_id = values
    if seq is None or state is None:
        return None
    return Folded(int(seq), state, (at or b"").decode(), (run_id or b"").decode())


class HotStore:
    """Reads and writes one tenant-scoped session's hot data at a time."""

    def __init__(self, url: str, *, timeout_s: float = 0.5, retry_s: float = 0.5,
                 ttl_s: int = 0, max_blocking: int = 1000) -> None:
        common = {"socket_connect_timeout": timeout_s, "retry": Retry(NoBackoff(), 1),
                  **connection_options(url)}  # commands packed by hiredis (lifeline_bus.redis_packing)
        self._client = aioredis.from_url(url, socket_timeout=timeout_s, **common)
        # blocking reads (XREAD BLOCK) hold a connection each and wait longer
        self._blocking = aioredis.from_url(url, socket_timeout=None, max_connections=max_blocking,
                                           **common)
        self._write_sha = self._client.register_script(_WRITE).sha
        self._retry_s = retry_s
        self._ttl_s = ttl_s
        self._down_until = 0.0
        self.run_id = ""

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._blocking.aclose()

    @property
    def available(self) -> bool:
        """False while the breaker is open after a recent failure."""
        return time.monotonic() >= self._down_until

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        if not self.available:
            raise HotStoreUnavailableError(f"{what}: Redis marked down")
        try:
            yield
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + self._retry_s
            raise HotStoreUnavailableError(f"{what}: {exc!r}") from exc

    async def ping(self) -> bool:
        """Probe Redis regardless of the breaker; closes it (and learns the server's
        `run_id`) when Redis answers."""
        try:
            info = await self._client.info("server")
        except (RedisError, OSError):
            self._down_until = time.monotonic() + self._retry_s
            return False
        self.run_id = str(info.get("run_id", ""))
        self._down_until = 0.0
        return True

    async def monitor(self, interval_s: float = 1.0) -> None:
        """Ping forever (run as a task): keeps `run_id` current and notices Redis coming back."""
        while True:
            await self.ping()
            await asyncio.sleep(interval_s)

    def fresh(self, folded: Folded) -> bool:
        """True if `folded` was written by the running Redis server (so nothing it was
        written with can have been lost since)."""
        return bool(self.run_id) and folded.run_id == self.run_id

    async def write_batches(self, batches: Sequence[HotBatch]) -> None:
        """Write every session's batch in one round trip: a pipeline (no MULTI) of one
        EVALSHA per session, each atomic on its own.

        Not `Script` in a pipeline: redis-py then sends SCRIPT EXISTS before every
        pipeline, a second round trip per batch. A server that lost the script (restart,
        SCRIPT FLUSH) answers NOSCRIPT: it is loaded and the calls that got it are sent
        again, once. Any other failure of any session fails the whole write (and opens
        the breaker) as one failed session always did; sessions written before it stay
        written, which is harmless (every write is idempotent).
        """
        if not batches:
            return
        calls = [b.call(self._ttl_s) for b in batches]
        with self._guard("write hot batch"):
            missing = await self._evalsha(calls, retry_noscript=True)
            if missing:
                await self._client.script_load(_WRITE)
                await self._evalsha(missing, retry_noscript=False)

    async def _evalsha(self, calls: Sequence[list[bytes | str | int]], *,
                       retry_noscript: bool) -> list[list[bytes | str | int]]:
        """Send `calls` in one pipeline; the calls answered NOSCRIPT (if `retry_noscript`),
        else raise the first error."""
        async with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._write_sha, _KEYS, *call)
            results = await pipe.execute(raise_on_error=False)
        missing = []
        for call, result in zip(calls, results, strict=True):
            if retry_noscript and isinstance(result, NoScriptError):
                missing.append(call)
            elif isinstance(result, Exception):
                raise result
        return missing

    async def rewarm(self, tenant: str, session: str, head: Folded) -> None:
        """Put a state read from PostgreSQL back into Redis (ignored if Redis is ahead)."""
        await self.write_batches([HotBatch(tenant, session, (), head)])

    async def head(self, tenant: str, session: str) -> Folded | None:
        with self._guard("read head state"):
            values = cast(list[bytes | None],
                          await self._client.hmget(keys.head_state(tenant, session), *_FIELDS))
        return _folded(values)

    async def snapshot_and_tail(self, tenant: str, session: str) -> tuple[Folded | None, list[Entry]]:
        """The latest snapshot and every event the stream holds after it."""
        with self._guard("read snapshot and stream"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hmget(keys.snapshot(tenant, session), *_FIELDS)
                pipe.xrange(keys.hot_stream(tenant, session))
                snap, entries = await pipe.execute()
        return _folded(snap), [(keys.seq_of(i), f[b"e"]) for i, f in entries]

    async def after(self, tenant: str, session: str, after_seq: int, count: int = 1000) -> list[Entry]:
        """Up to `count` stream entries with seq > after_seq, in order."""
        with self._guard("read stream range"):
            entries = cast(_Raw, await self._client.xrange(keys.hot_stream(tenant, session),
                                                           min=f"({keys.entry_id(after_seq)}", count=count))
        return [(keys.seq_of(i), f[b"e"]) for i, f in entries]

    async def wait_after(self, tenant: str, session: str, after_seq: int, block_ms: int,
                         count: int = 1000) -> list[Entry]:
        """Block up to `block_ms` for entries with seq > after_seq (XREAD BLOCK)."""
        stream = keys.hot_stream(tenant, session)
        with self._guard("wait on stream"):
            found = cast(list[tuple[bytes, _Raw]],
                         await self._blocking.xread({stream: keys.entry_id(after_seq)}, count=count,
                                                    block=max(1, block_ms)))
        if not found:
            return []
        return [(keys.seq_of(i), f[b"e"]) for i, f in found[0][1]]

    async def stream_length(self, tenant: str, session: str) -> int:
        with self._guard("stream length"):
            return int(await self._client.xlen(keys.hot_stream(tenant, session)))
