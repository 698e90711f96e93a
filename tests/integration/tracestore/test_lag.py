"""Consumer lag gauges (`lifeline_bus.lag`) read from real Redis streams and a real Kafka broker."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from lifeline_bus import create_bus
from lifeline_bus.lag import LagMonitor


def _gauge(name: str, topic: str, group: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"topic": topic, "group": group})


async def test_redis_lag_counts_undelivered_and_pending_entries(redis_url) -> None:
    """XINFO lag is what the group has not read; pending and the oldest idle time cover unacked reads."""
    topic, group = f"lag.{uuid.uuid4().hex[:8]}", "g"
    client = aioredis.from_url(redis_url)
    try:
        for i in range(10):
            await client.xadd(topic, {"data": str(i)})
        await client.xgroup_create(topic, group, id="0")
        bus = create_bus(redis_url, consumer="lag-test")
        monitor = LagMonitor(bus, [(topic, group), ("no.such.stream", group)], interval_s=60)
        [reading] = await monitor.refresh()
        assert (reading.lag, reading.pending, reading.oldest_unacked_s) == (10, 0, 0.0)
        await client.xreadgroup(group, "c1", {topic: ">"}, count=3)
        await asyncio.sleep(0.2)
        [reading] = await monitor.refresh()
        assert (reading.lag, reading.pending) == (7, 3)
        assert reading.oldest_unacked_s >= 0.15
        assert _gauge("lifeline_bus_consumer_lag_messages", topic, group) == 7
        assert _gauge("lifeline_bus_consumer_pending_messages", topic, group) == 3
        assert _gauge("lifeline_bus_dead_lettered_total", topic, group) == 0
        await monitor.stop()
        await bus.stop()
    finally:
        await client.aclose()


async def test_kafka_lag_is_end_minus_committed_offsets(kafka_url) -> None:
    """Kafka lag sums end − committed over partitions; the oldest uncommitted record has an age."""
    bootstrap = kafka_url.split("://", 1)[1]
    topic, group = f"lag.{uuid.uuid4().hex[:8]}", "g"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for i in range(10):
        await producer.send_and_wait(topic, str(i).encode(), partition=i % 2)
    await producer.stop()
    bus = create_bus(kafka_url, consumer="lag-test")
    monitor = LagMonitor(bus, [(topic, group)], interval_s=60)
    try:
        [reading] = await monitor.refresh()
        assert reading.lag == 10 and reading.pending is None and reading.oldest_unacked_s > 0
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    session_timeout_ms=3000, heartbeat_interval_ms=300)
        await consumer.start()
        seen = 0
        while seen < 10:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(records) for records in batch.values())
        await consumer.commit()
        await consumer.stop()
        [reading] = await monitor.refresh()
        assert (reading.lag, reading.oldest_unacked_s) == (0, 0.0)
        assert _gauge("lifeline_bus_consumer_lag_messages", topic, group) == 0
    finally:
        await monitor.stop()
        await bus.stop()
