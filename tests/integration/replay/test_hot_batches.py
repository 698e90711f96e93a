"""HotStore.write_batches on real Valkey: a bus batch's sessions in one pipeline round trip.

What one EVALSHA per session used to guarantee must survive the pipeline: each session
written atomically and idempotently, any failing session fails the write with
HotStoreUnavailableError and opens the breaker, a server that lost the script (SCRIPT
FLUSH, restart) is recovered, and no SCRIPT EXISTS round trip is added per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from lifeline_replay import keys
from lifeline_replay.errors import HotStoreUnavailableError
from lifeline_replay.hot import Folded, HotBatch, HotStore

TENANT = "t-hot"
RETRY_S = 0.3


@pytest.fixture
async def hot(redis_url: str) -> AsyncIterator[HotStore]:
    store = HotStore(redis_url, retry_s=RETRY_S)
    yield store
    await store.aclose()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


def batch(session: str, first: int, n: int) -> HotBatch:
    entries = [(seq, b'{"seq": %d}' % seq) for seq in range(first, first + n)]
    last = first + n - 1
    return HotBatch(TENANT, session, entries, Folded(last, b'{"head": %d}' % last, "at"))


async def calls(raw: aioredis.Redis, command: str) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def heads(raw: aioredis.Redis, sessions: list[str]) -> list[int | None]:
    """The stored head seqs, read past the breaker."""
    found = [await raw.hget(keys.head_state(TENANT, s), "seq") for s in sessions]
    return [int(f) if f is not None else None for f in found]


async def test_every_session_of_a_batch_is_written_with_one_evalsha_each(hot, raw) -> None:
    sessions = [f"s{i}" for i in range(5)]
    await hot.write_batches([batch("warm-up", 1, 1)])  # the server learns the script
    await raw.config_resetstat()
    await hot.write_batches([batch(s, 1, i + 1) for i, s in enumerate(sessions)])
    await hot.write_batches([batch(s, 1, i + 1) for i, s in enumerate(sessions)])  # redelivered: no-op

    assert await heads(raw, sessions) == [1, 2, 3, 4, 5]
    assert [await hot.stream_length(TENANT, s) for s in sessions] == [1, 2, 3, 4, 5]
    assert await calls(raw, "evalsha") == 10
    # no per-batch SCRIPT EXISTS (what a Script object in a pipeline costs), no reload
    assert await calls(raw, "script|exists") == 0
    assert await calls(raw, "script|load") == 0


async def test_a_flushed_script_cache_is_reloaded_once_and_the_batch_written(hot, raw) -> None:
    sessions = ["a", "b", "c"]
    await hot.write_batches([batch(s, 1, 2) for s in sessions])
    await raw.script_flush()
    await raw.flushdb()  # and the data with it, as a restart without persistence would
    await raw.config_resetstat()

    await hot.write_batches([batch(s, 3, 2) for s in sessions])

    assert hot.available
    assert await heads(raw, sessions) == [4, 4, 4]
    assert await hot.after(TENANT, "b", 0) == [(3, b'{"seq": 3}'), (4, b'{"seq": 4}')]
    assert await calls(raw, "script|load") == 1
    assert await calls(raw, "evalsha") == 6  # three NOSCRIPT, three again after the load


async def test_one_failing_session_fails_the_batch_and_opens_the_breaker(hot, raw) -> None:
    await raw.set(keys.head_state(TENANT, "broken"), b"not a hash")  # HGET inside the script fails

    with pytest.raises(HotStoreUnavailableError, match="write hot batch") as failed:
        await hot.write_batches([batch("ok-1", 1, 3), batch("broken", 1, 3), batch("ok-2", 1, 3)])
    assert "WRONGTYPE" in str(failed.value.__cause__)

    assert not hot.available
    # the other sessions were written, as concurrent per-session writes left them: harmless,
    # every write is idempotent and the redelivered batch writes them again
    assert await heads(raw, ["ok-1", "ok-2"]) == [3, 3]
    with pytest.raises(HotStoreUnavailableError, match="marked down"):
        await hot.write_batches([batch("ok-1", 4, 1)])

    await raw.delete(keys.head_state(TENANT, "broken"))
    await asyncio.sleep(RETRY_S + 0.05)
    await hot.write_batches([batch("ok-1", 1, 4), batch("broken", 1, 3), batch("ok-2", 1, 3)])
    assert hot.available
    assert await heads(raw, ["ok-1", "broken", "ok-2"]) == [4, 3, 3]
    assert await hot.stream_length(TENANT, "ok-1") == 4


async def test_a_failure_after_a_script_reload_still_fails_the_batch(hot, raw) -> None:
    await raw.script_flush()
    await raw.set(keys.head_state(TENANT, "broken"), b"not a hash")

    with pytest.raises(HotStoreUnavailableError, match="write hot batch") as failed:
        await hot.write_batches([batch("fine", 1, 2), batch("broken", 1, 2)])
    assert "WRONGTYPE" in str(failed.value.__cause__)

    assert not hot.available
    assert await heads(raw, ["fine"]) == [2]


async def test_an_empty_batch_costs_nothing(hot, raw) -> None:
    await raw.config_resetstat()
    await hot.write_batches([])
    assert await calls(raw, "evalsha") == 0
