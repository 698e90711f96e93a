"""FastStream is handed one subscription per stream, never a deep copy per read (redis_streams.py).

Pure: the broker is built and its subscribers registered, nothing connects. What FastStream
reads per `XREADGROUP` (`subscriber.stream_sub`) must be the registered subscription itself,
with every setting Lifeline gave it; a broker prefix still gets FastStream's prefixed copy.
"""

from __future__ import annotations

from typing import Any

from lifeline_bus.messages import Delivery
from lifeline_bus.redis_streams import RedisStreamsBus, _StreamSub


async def _ignore(batch: list[Delivery]) -> None:
    return None


def test_faststream_reads_the_registered_subscription_not_a_copy() -> None:
    bus = RedisStreamsBus("redis://127.0.0.1:1/0", consumer="c-1", reclaim_idle_ms=2_000)
    bus.consume("lifeline.events.v1", "replay", _ignore, max_records=321)
    subscribers: list[Any] = list(bus._broker.subscribers)
    assert len(subscribers) == 2  # the live batch reader and the reclaimer
    by_consumer = {s.stream_sub.consumer: s.stream_sub for s in subscribers}
    live, reclaim = by_consumer["c-1"], by_consumer["c-1-reclaim"]
    for sub in subscribers:
        assert sub.stream_sub is sub.stream_sub  # the same object on every read
    assert (live.name, live.group, live.consumer, live.batch, live.max_records) == (
        "lifeline.events.v1", "replay", "c-1", True, 321)
    assert (reclaim.name, reclaim.group, reclaim.consumer, reclaim.min_idle_time) == (
        "lifeline.events.v1", "replay", "c-1-reclaim", 2_000)


def test_a_prefix_still_gets_a_prefixed_copy() -> None:
    sub = _StreamSub("events", group="g", consumer="c", batch=True, max_records=5)
    prefixed = sub.add_prefix("tenant-a.")
    assert prefixed is not sub
    assert (prefixed.name, sub.name) == ("tenant-a.events", "events")
    assert (prefixed.group, prefixed.consumer, prefixed.max_records) == ("g", "c", 5)
    assert sub.add_prefix("") is sub
