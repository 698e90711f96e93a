"""Consumer lag measured at the broker, exported as Prometheus gauges.

A service registers the (topic, group) pairs it consumes and lets `LagMonitor`
refresh them on a timer (or awaits `refresh()` itself, e.g. at scrape time):

- Redis Streams: `XINFO GROUPS` gives the group's `lag` (entries not yet delivered to
  the group) and `pending` (delivered, not acknowledged); the oldest pending entry's
  idle time comes from `XPENDING … - + 1`.
- Kafka: lag is the end offset minus the group's committed offset, summed over the
  topic's partitions; the age of the oldest unconsumed record is read from the
  record at the committed offset (Kafka keeps no delivery bookkeeping, so this is
  the time since it was produced). Kafka has no pending list: that gauge stays unset.

The bus counters of each registered pair are created at 0, so dashboards show a
consumer that has dead-lettered or redelivered nothing as 0 rather than as no data.
Measuring never raises: a broker that does not answer is logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import Gauge

from lifeline_bus.factory import bus_kind
from lifeline_bus.metrics import BATCH_SECONDS, CONSUMED, DEAD_LETTERED, REDELIVERED

log = structlog.get_logger("lifeline.bus.lag")

LAG = Gauge("lifeline_bus_consumer_lag_messages",
            "Records on the topic the group has not consumed yet (Redis: undelivered; Kafka: uncommitted).",
            ["topic", "group"])
PENDING = Gauge("lifeline_bus_consumer_pending_messages",
                "Records delivered to the group but not acknowledged (Redis pending entries list).",
                ["topic", "group"])
OLDEST_UNACKED = Gauge("lifeline_bus_consumer_oldest_unacked_seconds",
                       "Redis: idle time of the oldest pending entry; Kafka: age of the oldest uncommitted "
                       "record. 0 when nothing waits.", ["topic", "group"])


@dataclass(frozen=True)
class LagReading:
    topic: str
    group: str
    lag: int | None
    pending: int | None
    oldest_unacked_s: float


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def redis_lag(client: aioredis.Redis, topic: str, group: str) -> LagReading | None:
    """The group's lag on one stream, or None when the stream or group does not exist yet."""
    try:
        groups = await client.xinfo_groups(topic)
    except aioredis.ResponseError:
        return None
    info = next((g for g in groups if _text(g.get("name")) == group), None)
    if info is None:
        return None
    lag = info.get("lag")
    if lag is None and info.get("entries-read") is not None:  # lag unknown after deletions
        lag = max(0, int(await client.xlen(topic)) - int(info["entries-read"]))
    pending = int(info.get("pending") or 0)
    oldest = 0.0
    if pending:
        first = await client.xpending_range(topic, group, min="-", max="+", count=1)
        if first:
            oldest = int(first[0]["time_since_delivered"]) / 1000
    return LagReading(topic, group, None if lag is None else int(lag), pending, oldest)


class KafkaLagReader:
    """Committed offsets (admin client) against end offsets (a group-less consumer)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._admin: Any = None
        self._consumer: Any = None

    async def _connect(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=5000)
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                        request_timeout_ms=5000)
            await consumer.start()
            self._consumer = consumer

    async def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.stop() if client is self._consumer else client.close())
        self._admin = self._consumer = None

    async def read(self, topic: str, group: str) -> LagReading | None:
        from aiokafka import TopicPartition

        await self._connect()
        await self._consumer._client.force_metadata_update()
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            return None
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await self._consumer.end_offsets(tps)
        starts = await self._consumer.beginning_offsets(tps)
        positions = {}
        for tp in tps:
            meta = committed.get(tp)
            positions[tp] = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
        behind = {tp: ends[tp] - positions[tp] for tp in tps if ends[tp] > positions[tp]}
        oldest = await self._oldest_age(behind, positions)
        return LagReading(topic, group, sum(behind.values()), None, oldest)

    async def _oldest_age(self, behind: dict[Any, int], positions: dict[Any, int]) -> float:
        """Seconds since the oldest record still to be consumed was produced."""
        if not behind:
            return 0.0
        self._consumer.assign(list(behind))
        for tp in behind:
            self._consumer.seek(tp, positions[tp])
        first: dict[Any, int] = {}
        deadline = time.monotonic() + 2.0
        while len(first) < len(behind) and time.monotonic() < deadline:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=len(behind))
            for tp, records in batch.items():
                if records and tp not in first:
                    first[tp] = records[0].timestamp
                    self._consumer.pause(tp)
        self._consumer.assign([])
        if not first:
            return 0.0
        return max(0.0, time.time() - min(first.values()) / 1000)


def _publish(reading: LagReading) -> None:
    if reading.lag is not None:
        LAG.labels(reading.topic, reading.group).set(reading.lag)
    if reading.pending is not None:
        PENDING.labels(reading.topic, reading.group).set(reading.pending)
    OLDEST_UNACKED.labels(reading.topic, reading.group).set(reading.oldest_unacked_s)


class LagMonitor:
    """Measure the lag of `consumers` [(topic, group), …] every `interval_s` seconds."""

    def __init__(self, bus_url: str, consumers: Sequence[tuple[str, str]], *,
                 interval_s: float = 5.0) -> None:
        self._kind = bus_kind(bus_url)
        self._consumers = list(consumers)
        self._interval_s = interval_s
        self._redis: aioredis.Redis | None = None
        self._kafka: KafkaLagReader | None = None
        if self._kind == "redis":
            self._redis = aioredis.from_url(bus_url.replace("valkey://", "redis://", 1),
                                            socket_timeout=5, socket_connect_timeout=2)
        else:
            self._kafka = KafkaLagReader(bus_url.split("://", 1)[1].rstrip("/"))
        self._task: asyncio.Task[None] | None = None
        for topic, group in self._consumers:
            for counter in (CONSUMED, DEAD_LETTERED, REDELIVERED):
                counter.labels(topic, group)
            BATCH_SECONDS.labels(topic, group)

    async def refresh(self) -> list[LagReading]:
        """Measure every registered consumer now and update the gauges."""
        readings = []
        for topic, group in self._consumers:
            try:
                if self._redis is not None:
                    reading = await redis_lag(self._redis, topic, group)
                else:
                    assert self._kafka is not None
                    reading = await self._kafka.read(topic, group)
            except Exception as exc:  # a lag probe must never take the service down
                log.warning("bus.lag_unavailable", topic=topic, group=group, error=repr(exc))
                if self._kafka is not None:
                    await self._kafka.close()
                continue
            if reading is not None:
                _publish(reading)
                readings.append(reading)
        return readings

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bus-lag-monitor")

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
        if self._kafka is not None:
            await self._kafka.close()
