"""Consumer lag measured at the broker, exported as Prometheus gauges.

A service registers the (topic, group) pairs it consumes and lets `LagMonitor`
refresh them on a timer (or awaits `refresh()` itself, e.g. at scrape time). How a
broker measures lag is its adapter's business (`Bus.lag`: Redis in
`redis_streams.py`, Kafka in `kafka.py`); this module only publishes the readings.

The bus counters of each registered pair are created at 0, so dashboards show a
consumer that has dead-lettered or redelivered nothing as 0 rather than as no data.
Measuring never raises: a broker that does not answer is logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from prometheus_client import Gauge

from lifeline_bus.messages import LagReading
from lifeline_bus.metrics import BATCH_SECONDS, CONSUMED, DEAD_LETTERED, REDELIVERED
from lifeline_bus.ports import Bus

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

__all__ = ["LagMonitor", "LagReading"]


def _publish(reading: LagReading) -> None:
    if reading.lag is not None:
        LAG.labels(reading.topic, reading.group).set(reading.lag)
    if reading.pending is not None:
        PENDING.labels(reading.topic, reading.group).set(reading.pending)
    OLDEST_UNACKED.labels(reading.topic, reading.group).set(reading.oldest_unacked_s)


class LagMonitor:
    """Measure the lag of `consumers` [(topic, group), …] on `bus` every `interval_s` seconds.

    `consumers` defaults to every group registered on the bus. The monitor owns no
    connection: the bus does, and closes it when it stops.
    """

    def __init__(self, bus: Bus, consumers: Sequence[tuple[str, str]] | None = None, *,
                 interval_s: float = 5.0) -> None:
        self._bus = bus
        self._consumers = list(bus.consumed if consumers is None else consumers)
        self._interval_s = interval_s
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
                reading = await self._bus.lag(topic, group)
            except Exception as exc:  # a lag probe must never take the service down
                log.warning("bus.lag_unavailable", topic=topic, group=group, error=repr(exc))
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
