"""Kafka adapter: topics partitioned by session id, consumer groups, ACK-after-handler.

Per docs/operations.md (bus notes, Kafka): the default ACK_FIRST (auto-commit) loses messages, and
NACK_ON_ERROR hot-loops a partition. So subscribers use `AckPolicy.ACK` (commit
after the handler returns) and do their retrying and dead-lettering inside the
handler (`policy.settle`); a batch cancelled at shutdown is not committed and is
redelivered to whoever owns the partition next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from lifeline_bus.dead_letters import DLQ_TOPIC, dlq_metadata, record_dead_letter
from lifeline_bus.errors import BusUnavailableError
from lifeline_bus.kafka_producer import start_producer
from lifeline_bus.linger import linger
from lifeline_bus.messages import CONSUMER_BATCH, BatchHandler, Delivery, LagReading, OutMessage
from lifeline_bus.metrics import BATCH_SECONDS, CONSUMED, PUBLISHED
from lifeline_bus.policy import settle

log = structlog.get_logger("lifeline.bus")
_FASTSTREAM_HEADERS = {"content-type", "correlation_id"}


async def _skip_decode(*_: Any) -> None:
    """A coroutine: FastStream runs a plain function decoder in a worker thread."""
    return None


def _delivery(record: Any) -> Delivery:
    headers = {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())
               if k not in _FASTSTREAM_HEADERS}
    key = record.key.decode(errors="replace") if record.key else None
    return Delivery(topic=record.topic, id=f"{record.partition}:{record.offset}",
                    value=record.value or b"", key=key, headers=headers)


class KafkaLagReader:
    """Committed offsets (admin client) against end offsets (a group-less consumer).

    Lag is the end offset minus the group's committed offset, summed over the topic's
    partitions; the age of the oldest unconsumed record is read from the record at the
    committed offset (Kafka keeps no delivery bookkeeping, so this is the time since it
    was produced). Kafka has no pending list: `pending` is None.
    """

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


class KafkaBus:
    """The scale-out bus: Kafka (or a Kafka-protocol broker) through FastStream."""

    kind = "kafka"

    def __init__(self, bootstrap: str, *, client_id: str, partitions: int = 8,
                 graceful_timeout: float = 10.0, session_timeout_ms: int = 10_000,
                 linger_ms: float = 0.0) -> None:
        self._session_timeout_ms = session_timeout_ms
        self._linger_s = linger_ms / 1000
        self._bootstrap = bootstrap
        self._lag_reader = KafkaLagReader(bootstrap)
        self._partitions = partitions
        self._broker = KafkaBroker(bootstrap, client_id=client_id, acks="all", linger_ms=2,
                                   graceful_timeout=graceful_timeout, request_timeout_ms=10_000,
                                   logger=logging.getLogger("lifeline.faststream"),
                                   log_level=logging.DEBUG)
        self._topics: set[str] = {DLQ_TOPIC}
        self._consumed: list[tuple[str, str]] = []
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._client_id = client_id
        self.idempotent = False
        """Whether the started producer is idempotent (the broker granted InitProducerId)."""
        self.started = False

    @property
    def consumed(self) -> list[tuple[str, str]]:
        """(topic, group) of every registered consumer, for lag monitoring."""
        return list(self._consumed)

    def consume(self, topic: str, group: str, handler: BatchHandler, *,
                max_records: int = CONSUMER_BATCH) -> None:
        # The delivered message, read from FastStream's context directly: a `Context("message")`
        # parameter made fast_depends resolve it in a worker thread, a thread hop per batch.
        current_message = partial(self._broker.context.get_local, "message")
        self._topics.add(topic)
        self._consumed.append((topic, group))

        async def dead_letter(delivery: Delivery, reason: str) -> None:
            await self.dead_letter(delivery, reason, group)

        @self._broker.subscriber(
            topic, group_id=group, batch=True, max_records=max_records,
            ack_policy=AckPolicy.ACK, auto_offset_reset="earliest",
            max_poll_interval_ms=60_000, session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(100, self._session_timeout_ms // 10), decoder=_skip_decode,
        )
        async def live(_: Any) -> None:
            message = current_message()
            batch = [_delivery(r) for r in message.raw_message]
            CONSUMED.labels(topic, group).inc(len(batch))
            with BATCH_SECONDS.labels(topic, group).time():
                await settle(handler, batch, dead_letter=dead_letter, stopping=self._stopping)
            await linger(len(batch), max_records, self._linger_s, message.ack)

    def declare(self, *topics: str) -> None:
        self._topics.update(topics)

    async def ensure_topics(self, topics: Sequence[str] = ()) -> None:
        """Create the topics (partitioned by session id) if they do not exist yet."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [t for t in sorted(self._topics | set(topics)) if t not in existing]
            if wanted:
                try:
                    await admin.create_topics([NewTopic(t, self._partitions, 1) for t in wanted])
                except TopicAlreadyExistsError:
                    pass
        except (KafkaError, OSError) as exc:
            raise BusUnavailableError(f"cannot reach Kafka at {self._bootstrap}: {exc}") from exc
        finally:
            await admin.close()

    async def start(self) -> None:
        """Connect the producer first: publishing must not wait for a group rebalance.

        The producer is idempotent when the broker grants it (`kafka_producer`); `idempotent`
        tells which one this bus got.

        Joining a consumer group can take as long as the coordinator needs to expire
        a crashed member; the relay's publishing has nothing to do with that.
        """
        self._stopping.clear()
        await self.ensure_topics()
        try:
            if self._producer is None:
                self._producer, self.idempotent = await start_producer(self._bootstrap, self._client_id)
            await self._broker.start()  # aiokafka's start waits for each group's first assignment
        except (KafkaError, OSError) as exc:
            raise BusUnavailableError(f"cannot start Kafka bus at {self._bootstrap}: {exc}") from exc
        self.started = True

    async def stop(self) -> None:
        self._stopping.set()
        await self._broker.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await self._lag_reader.close()

    async def publish(self, topic: str, messages: Sequence[OutMessage]) -> None:
        if not messages:
            return
        producer = self._producer
        if producer is None:
            raise BusUnavailableError("Kafka bus is not connected")
        try:
            # send() only enqueues, in call order, so awaiting each keeps per-key order;
            # the futures are then awaited together for one round of acks.
            futures = [
                await producer.send(topic, m.value, key=m.key.encode(),
                                    headers=[(k, v.encode()) for k, v in m.headers.items()])
                for m in messages
            ]
            await asyncio.gather(*futures)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise BusUnavailableError(f"publish to {topic}: {exc!r}") from exc
        PUBLISHED.labels(topic).inc(len(messages))

    async def dead_letter(self, delivery: Delivery, reason: str, group: str) -> None:
        headers = dlq_metadata(delivery, reason, group)
        producer = self._producer
        if producer is None:
            raise BusUnavailableError("Kafka bus is not connected")
        try:
            await producer.send_and_wait(DLQ_TOPIC, delivery.value,
                                         key=(delivery.key or "").encode() or None,
                                         headers=[(k, v.encode()) for k, v in headers.items()])
        except (KafkaError, OSError) as exc:
            raise BusUnavailableError(f"dead-letter to {DLQ_TOPIC}: {exc!r}") from exc
        record_dead_letter(delivery, reason, group)

    async def ping(self) -> bool:
        try:
            return bool(await self._broker.ping(timeout=1))
        except Exception:
            return False

    async def lag(self, topic: str, group: str) -> LagReading | None:
        if self._stopping.is_set():
            return None  # its connections are closing: a reading now would reopen them
        try:
            return await self._lag_reader.read(topic, group)
        except Exception as exc:  # aiokafka raises more than KafkaError here (timeouts, assertions)
            await self._lag_reader.close()  # reconnect on the next reading
            raise BusUnavailableError(f"cannot read the lag of {group} on {topic}: {exc!r}") from exc

    def consumers_running(self) -> bool:
        return all(getattr(s, "running", False) for s in self._broker.subscribers)
