"""The Kafka producer: idempotent where the broker allows it, at-least-once where it does not.

An idempotent producer (`enable_idempotence`: a producer id and per-partition sequence
numbers) lets the broker drop the duplicate a retried send would otherwise append, so a
broker or network hiccup during the relay's publish does not put a record on the log
twice. Apache Kafka grants it (it needs the IdempotentWrite ACL on old clusters with
authorisation on); tansu, the broker of the test suite, refuses InitProducerId with
UnknownError. Then the bus downgrades to a plain `acks=all` producer and says so once per
broker and process: delivery is at-least-once, which Lifeline already tolerates because
every consumer is idempotent (a projection records the seq it applied in the same
transaction as the effect; docs/operations.md, "Kafka in production").

Per-key order holds either way: aiokafka keeps one in-flight batch per partition.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnknownError,
    UnsupportedVersionError,
)

log = structlog.get_logger("lifeline.bus")

_REFUSALS = (UnknownError, UnsupportedVersionError, ClusterAuthorizationFailedError,
             TransactionalIdAuthorizationFailed)
"""What a reachable broker answers InitProducerId with when it will not grant idempotence."""
_DOWNGRADED: set[str] = set()
"""Brokers (bootstrap strings) that refused idempotence in this process: not asked, nor logged, again."""


def _not_the_refusal(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Unexpected error during InitProducerIdRequest")


@contextlib.contextmanager
def _refusal_unlogged() -> Iterator[None]:
    """aiokafka logs a refused InitProducerId at ERROR before raising; our one warning says it better."""
    sender = logging.getLogger("aiokafka.producer.sender")
    sender.addFilter(_not_the_refusal)
    try:
        yield
    finally:
        sender.removeFilter(_not_the_refusal)


def _producer(bootstrap: str, client_id: str, *, idempotent: bool) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2,
                            client_id=f"{client_id}-producer", request_timeout_ms=10_000,
                            enable_idempotence=idempotent)


async def start_producer(bootstrap: str, client_id: str) -> tuple[AIOKafkaProducer, bool]:
    """A started producer and whether it is idempotent. Connection errors propagate."""
    if bootstrap not in _DOWNGRADED:
        producer = _producer(bootstrap, client_id, idempotent=True)
        try:
            with _refusal_unlogged():
                await producer.start()
        except _REFUSALS as exc:
            await producer.stop()
            _DOWNGRADED.add(bootstrap)
            log.warning("kafka.producer.idempotence_refused", bootstrap=bootstrap, error=repr(exc),
                        delivery="at-least-once; consumers deduplicate",
                        detail="the broker refused InitProducerId: publishing without idempotence")
        else:
            log.info("kafka.producer.started", bootstrap=bootstrap, idempotent=True, acks="all")
            return producer, True
    producer = _producer(bootstrap, client_id, idempotent=False)
    await producer.start()
    return producer, False
