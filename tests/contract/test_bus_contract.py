"""One contract for every bus adapter, run against real Redis (Valkey) and Kafka (tansu)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest

from lifeline_bus import Bus, Delivery, OutMessage
from lifeline_bus import create_bus as _create_bus
from lifeline_common.errors import TransientError
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually

DLQ = "lifeline.dlq.v1"


def create_bus(url: str, **kwargs: object) -> Bus:
    """The adapter with a short Kafka session timeout: tansu holds group joins for half of it."""
    return _create_bus(url, session_timeout_ms=3000, **kwargs)  # type: ignore[arg-type]


def _topic() -> str:
    return f"contract.{uuid.uuid4().hex[:10]}"


async def _dlq_for(bus_url: str, topic: str) -> list:
    return [r for r in await read_topic(bus_url, DLQ) if r.headers.get("source_topic") == topic]


class Collector:
    """A handler that records what it applies and refuses records equal to b'poison'."""

    def __init__(self) -> None:
        self.applied: list[Delivery] = []

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        refused = {d.id: "poison record" for d in batch if d.value == b"poison"}
        self.applied.extend(d for d in batch if d.id not in refused)
        return refused


async def test_history_and_per_key_order(bus_url: str) -> None:
    """A new group reads records published before it existed, each key in publish order."""
    topic = _topic()
    producer = create_bus(bus_url, consumer="producer")
    if producer.kind == "kafka":
        await producer.ensure_topics([topic])
    await producer.start()
    messages = [OutMessage(key=f"s{i % 4}", value=f"{i % 4}:{i}".encode(),
                           headers={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"})
                for i in range(200)]
    await producer.publish(topic, messages)
    collector = Collector()
    consumer = create_bus(bus_url, consumer="c1")
    consumer.consume(topic, "g", collector, max_records=50)
    await consumer.start()
    try:
        await eventually(lambda: _ready(len(collector.applied) >= 200), what="200 records")
        for key in ("s0", "s1", "s2", "s3"):
            got = [d.value for d in collector.applied if d.key == key]
            assert got == [m.value for m in messages if m.key == key]
        assert all(d.headers.get("traceparent", "").startswith("00-aaaa") for d in collector.applied)
        assert consumer.consumers_running()
        assert await consumer.ping()
    finally:
        await consumer.stop()
        await producer.stop()


async def _ready(value: bool) -> bool:
    return value


async def test_refused_record_goes_to_dlq_with_original_bytes(bus_url: str) -> None:
    """A refused record lands on the DLQ with its reason and bytes; the next ones still apply."""
    topic = _topic()
    bus = create_bus(bus_url, consumer="c1")
    collector = Collector()
    bus.consume(topic, "g", collector, max_records=10)
    await bus.start()
    try:
        await bus.publish(topic, [OutMessage("k", b"one"), OutMessage("k", b"poison"),
                                  OutMessage("k", b"two")])
        await eventually(lambda: _ready(len(collector.applied) == 2), what="two applied")
        dead = await eventually(lambda: _dlq_for(bus_url, topic), what="DLQ record")
        assert [r.value for r in dead] == [b"poison"]
        assert dead[0].headers["reason"] == "poison record"
        assert [d.value for d in collector.applied] == [b"one", b"two"]
    finally:
        await bus.stop()


async def test_crashing_record_is_isolated_and_dead_lettered(bus_url: str) -> None:
    """A record whose handling raises is retried, then dead-lettered; its batch-mates apply."""
    topic = _topic()
    applied: list[bytes] = []
    attempts: dict[bytes, int] = {}

    async def handler(batch: list[Delivery]) -> Mapping[str, str]:
        for d in batch:
            attempts[d.value] = attempts.get(d.value, 0) + 1
        if any(d.value == b"boom" for d in batch):
            raise ValueError("cannot handle boom")
        applied.extend(d.value for d in batch)
        return {}

    bus = create_bus(bus_url, consumer="c1")
    bus.consume(topic, "g", handler, max_records=10)
    await bus.start()
    try:
        await bus.publish(topic, [OutMessage("k", v) for v in (b"a", b"boom", b"c")])
        dead = await eventually(lambda: _dlq_for(bus_url, topic), what="boom dead-lettered")
        assert dead[0].value == b"boom" and "cannot handle boom" in dead[0].headers["reason"]
        await eventually(lambda: _ready(sorted(set(applied)) == [b"a", b"c"]), what="a and c")
        assert attempts[b"boom"] >= 3
    finally:
        await bus.stop()


async def test_transient_failure_is_retried_not_dead_lettered(bus_url: str) -> None:
    """While a dependency is down the batch is retried; nothing goes to the DLQ."""
    topic = _topic()
    failures = {"left": 3}
    applied: list[bytes] = []

    async def handler(batch: list[Delivery]) -> Mapping[str, str]:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise TransientError("database down")
        applied.extend(d.value for d in batch)
        return {}

    bus = create_bus(bus_url, consumer="c1")
    bus.consume(topic, "g", handler)
    await bus.start()
    try:
        await bus.publish(topic, [OutMessage("k", b"x")])
        await eventually(lambda: _ready(applied == [b"x"]), what="x applied after retries")
        assert await _dlq_for(bus_url, topic) == []
    finally:
        await bus.stop()


async def test_unfinished_batch_is_redelivered_after_stop(bus_url: str) -> None:
    """A consumer stopped mid-handler does not ack; the next consumer of the group gets it."""
    topic = _topic()
    started = asyncio.Event()

    async def stuck(batch: list[Delivery]) -> Mapping[str, str]:
        started.set()
        await asyncio.sleep(30)
        return {}

    first = create_bus(bus_url, consumer="dies", graceful_timeout=0.5, reclaim_idle_ms=500)
    first.consume(topic, "g", stuck)
    await first.start()
    await first.publish(topic, [OutMessage("k", b"in-flight")])
    await asyncio.wait_for(started.wait(), 15)
    await first.stop()

    collector = Collector()
    second = create_bus(bus_url, consumer="lives", reclaim_idle_ms=500)
    second.consume(topic, "g", collector)
    await second.start()
    try:
        await eventually(lambda: _ready([d.value for d in collector.applied] == [b"in-flight"]),
                         timeout=30, what="redelivery to the live consumer")
        if second.kind == "redis":
            assert collector.applied[0].delivery_count >= 2
    finally:
        await second.stop()


async def test_publish_to_unreachable_bus_raises_bus_unavailable(free_port: int) -> None:
    """Publishing with nothing listening raises BusUnavailableError, never a driver error."""
    from lifeline_bus import BusUnavailableError

    bus = create_bus(f"redis://127.0.0.1:{free_port}/0", consumer="c")
    with pytest.raises(BusUnavailableError):
        await bus.publish("t", [OutMessage("k", b"v")])


def test_every_adapter_lists_what_it_consumes(bus_url: str) -> None:
    """`consumed` names each registered (topic, group): lag monitoring is built from it."""
    bus = create_bus(bus_url, consumer="c")
    bus.consume("t1", "g1", Collector())
    bus.consume("t2", "g2", Collector())
    assert bus.consumed == [("t1", "g1"), ("t2", "g2")]


@contextlib.asynccontextmanager
async def _lingering(bus_url: str, linger_ms: int) -> AsyncIterator[tuple[Bus, Bus, str, list[list[bytes]]]]:
    """A started producer, and a consumer of a fresh topic lingering `linger_ms` that
    records each batch's values: (producer, consumer, topic, batches)."""
    topic = _topic()
    producer = create_bus(bus_url, consumer="producer")
    if producer.kind == "kafka":
        await producer.ensure_topics([topic])
    await producer.start()
    batches: list[list[bytes]] = []

    async def handler(batch: list[Delivery]) -> Mapping[str, str]:
        batches.append([d.value for d in batch])
        return {}

    consumer = create_bus(bus_url, consumer="c1", linger_ms=linger_ms)
    consumer.consume(topic, "g", handler, max_records=50)
    await consumer.start()
    try:
        yield producer, consumer, topic, batches
    finally:
        await consumer.stop()
        await producer.stop()


async def test_linger_gathers_a_trickle_into_one_batch(bus_url: str) -> None:
    """After a small batch the consumer waits `linger_ms` before reading again, so records
    published one at a time meanwhile arrive together, in order, none lost or doubled."""
    async with _lingering(bus_url, 2000) as (producer, _, topic, batches):
        await producer.publish(topic, [OutMessage(key="s", value=b"0")])
        await eventually(lambda: _ready(len(batches) == 1), what="the first record")
        for i in range(1, 10):  # one publish per record, all inside the linger
            await producer.publish(topic, [OutMessage(key="s", value=str(i).encode())])
        await eventually(lambda: _ready(sum(map(len, batches)) >= 10), what="ten records")
        assert batches == [[b"0"], [str(i).encode() for i in range(1, 10)]]


async def test_a_settled_batch_is_acknowledged_before_the_linger(bus_url: str) -> None:
    """The linger follows the ack: while the consumer waits, its group shows nothing
    behind and nothing pending (governance reads that lag before deciding)."""
    async with _lingering(bus_url, 6000) as (producer, consumer, topic, batches):
        await producer.publish(topic, [OutMessage(key="s", value=b"only")])
        await eventually(lambda: _ready(batches == [[b"only"]]), what="the record")

        async def caught_up() -> bool:
            reading = await consumer.lag(topic, "g")
            return reading is not None and reading.lag == 0 and not reading.pending

        await eventually(caught_up, timeout=4.5, what="no lag and nothing pending during the linger")


async def test_started_turns_true_once_the_group_has_admitted_the_consumer(bus_url: str) -> None:
    """`started` (what readiness waits for) is false until `start` returns, true after: on
    Kafka `start` returns only once the group assigned the consumer its partitions, and a
    second member joining later (a rebalance) leaves it set."""
    topic = _topic()
    first, second = create_bus(bus_url, consumer="m1"), create_bus(bus_url, consumer="m2")
    if first.kind == "kafka":
        await first.ensure_topics([topic])
    first.consume(topic, "g", Collector())
    second.consume(topic, "g", Collector())
    assert not first.started and not second.started
    await first.start()
    try:
        assert first.started
        if first.kind == "kafka":
            (subscriber,) = first._broker.subscribers  # type: ignore[attr-defined]
            assert subscriber.consumer.assignment(), "start returned before the group assigned partitions"
        await second.start()
        assert second.started and first.started
    finally:
        await second.stop()
        await first.stop()
