"""What goes onto the bus and what comes off it, independent of the broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

CONSUMER_BATCH = 2000
"""Records a consumer reads at most per batch (each service's `*_MAX_RECORDS` setting).

Sized by measurement on the whole stack (issue 10): every batch costs a consumer a fixed
read, transaction, checkpoint and ack, and every session in it a state dump and an upsert;
sessions interleave on the bus, so a bigger read makes each session's run in it longer.
From 500 to 2,000 records, the interleaved topic path (200 sessions) took 16 % less CPU per
event and a burst 7-9 % less on Redis (3-6 % on Kafka); 5,000 measured the same as 2,000.
A smaller batch only comes when less is waiting: nothing waits for a batch to fill."""


@dataclass(frozen=True)
class OutMessage:
    """One record to publish: `key` (the session id) decides the partition on Kafka."""

    key: str
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One record as consumed: the original bytes, never re-encoded.

    `id` is the stream entry id on Redis, `partition:offset` on Kafka.
    `delivery_count` is how often the bus has handed it out (1 on Kafka, where the
    broker keeps no such count).
    """

    topic: str
    id: str
    value: bytes
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delivery_count: int = 1


@dataclass(frozen=True)
class LagReading:
    """How far a consumer group is behind on a topic, as its broker measures it.

    `pending` is None where the broker keeps no pending list (Kafka); `lag` is None
    when Redis cannot tell (entries deleted). `oldest_unacked_s` is 0 when nothing waits.
    """

    topic: str
    group: str
    lag: int | None
    pending: int | None
    oldest_unacked_s: float


# A handler takes a batch and returns the records it refuses, {delivery id: reason};
# those go to the DLQ and everything else is acknowledged. Raising TransientError
# means "try again later"; any other exception makes the adapter isolate the culprit.
BatchHandler = Callable[[list[Delivery]], Awaitable[Mapping[str, str]]]
