"""What every adapter writes with a dead-lettered record, and how it is counted.

The DLQ record keeps the original bytes as its value and carries why and where it
failed as metadata (Redis: stream fields; Kafka: headers), so any client can read it.
"""

from __future__ import annotations

import time

import structlog

from lifeline_bus.messages import Delivery
from lifeline_bus.metrics import DEAD_LETTERED

DLQ_TOPIC = "lifeline.dlq.v1"
log = structlog.get_logger("lifeline.bus")


def dlq_metadata(delivery: Delivery, reason: str, group: str) -> dict[str, str]:
    return {"reason": reason[:4000], "source_topic": delivery.topic, "source_id": delivery.id,
            "group": group, "failed_at": f"{time.time():.3f}"}


def record_dead_letter(delivery: Delivery, reason: str, group: str) -> None:
    """Count and log a record the adapter has just written to the DLQ."""
    DEAD_LETTERED.labels(delivery.topic, group).inc()
    log.warning("consumer.dead_lettered", topic=delivery.topic, group=group,
                delivery=delivery.id, reason=reason)
