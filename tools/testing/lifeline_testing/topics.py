"""Read a topic's records as a plain client would, for asserting on what was published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from lifeline_bus import bus_kind


@dataclass(frozen=True)
class Record:
    value: bytes
    key: str | None
    headers: dict[str, str] = field(default_factory=dict)
    partition: int = 0


async def read_topic(bus_url: str, topic: str, *, limit: int = 100_000) -> list[Record]:
    """Every record currently on `topic`, oldest first (per partition on Kafka)."""
    if bus_kind(bus_url) == "redis":
        client = aioredis.from_url(bus_url)
        try:
            # Without decode_responses the client answers bytes; its stubs allow str too.
            entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(topic, count=limit))
        finally:
            await client.aclose()
        out = []
        for _, fields in entries:
            headers = {k.decode(): v.decode(errors="replace") for k, v in fields.items()
                       if k not in (b"data", b"key")}
            key = fields.get(b"key")
            out.append(Record(fields.get(b"data", b""), key.decode() if key else None, headers))
        return out
    return await _read_kafka(bus_url.split("://", 1)[1], topic, limit)


async def _read_kafka(bootstrap: str, topic: str, limit: int) -> list[Record]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.stop()
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
            await consumer.start()
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends: dict[Any, int] = await consumer.end_offsets(tps)
        out: list[Record] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining and len(out) < limit:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    headers = {k: (v or b"").decode(errors="replace") for k, v in r.headers or ()}
                    out.append(Record(r.value or b"", r.key.decode() if r.key else None, headers,
                                      r.partition))
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def produce_raw(bus_url: str, topic: str, records: list[tuple[str | None, bytes]],
                      headers: list[dict[str, str]] | None = None) -> None:
    """Produce records exactly as a producer with no Lifeline code would (docs/events.md);
    `headers[i]` are record i's headers (Redis: extra stream fields, Kafka: record headers)."""
    each = headers or [{} for _ in records]
    if bus_kind(bus_url) == "redis":
        client = aioredis.from_url(bus_url)
        try:
            for (_, value), extra in zip(records, each, strict=True):
                fields: dict[Any, Any] = {"data": value}
                fields.update(extra)
                await client.xadd(topic, fields)
        finally:
            await client.aclose()
        return
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bus_url.split("://", 1)[1], acks="all")
    await producer.start()
    try:
        for (key, value), extra in zip(records, each, strict=True):
            await producer.send_and_wait(topic, value, key=key.encode() if key else None,
                                         headers=[(k, v.encode()) for k, v in extra.items()] or None)
    finally:
        await producer.stop()
