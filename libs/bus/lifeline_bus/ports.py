"""The port services program against; `factory.create_bus` picks the adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lifeline_bus.messages import CONSUMER_BATCH, BatchHandler, Delivery, LagReading, OutMessage


class Bus(Protocol):
    """A partitioned, ordered-per-key log with consumer groups.

    Delivery is at least once: handlers must be idempotent. A record a handler
    refuses, or one that keeps failing, lands on the DLQ with its reason and the
    original bytes, and never blocks the records behind it.
    """

    kind: str
    started: bool
    """True once `start` has returned: on Kafka, every consumer holds its first assignment
    (the group admitted it); never reset, so a later outage or rebalance leaves it set."""

    @property
    def consumed(self) -> list[tuple[str, str]]:
        """(topic, group) of every registered consumer."""

    def consume(self, topic: str, group: str, handler: BatchHandler, *,
                max_records: int = CONSUMER_BATCH) -> None:
        """Register a consumer group (before `start`); it reads the topic from its start."""

    def declare(self, *topics: str) -> None:
        """Name topics this process publishes to, so they exist partitioned (Kafka)."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop fetching, let in-flight batches finish and ack, then disconnect."""

    async def publish(self, topic: str, messages: Sequence[OutMessage]) -> None:
        """Publish in order; raise BusUnavailableError if the bus cannot take them."""

    async def dead_letter(self, delivery: Delivery, reason: str, group: str) -> None: ...

    async def ping(self) -> bool: ...

    def consumers_running(self) -> bool:
        """True when every registered subscriber is really running, not just connected."""

    async def lag(self, topic: str, group: str) -> LagReading | None:
        """The group's lag on `topic` as the broker reports it; None if either does not exist yet.

        May raise on a broker that does not answer (the lag monitor logs and retries).
        """
