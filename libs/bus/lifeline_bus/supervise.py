"""Start a bus that may not be there yet, without blocking the service's start-up.

A service that can work without the bus for a while (ingest keeps logging) must
come up anyway and connect when the bus appears.
"""

from __future__ import annotations

import asyncio

import structlog

from lifeline_bus.ports import Bus

log = structlog.get_logger("lifeline.bus")


async def start_when_available(bus: Bus, *, first_delay: float = 0.5, max_delay: float = 5.0) -> None:
    """Retry `bus.start()` with backoff until it succeeds (cancel to give up)."""
    delay = first_delay
    while True:
        try:
            await bus.start()
            log.info("bus.started", kind=bus.kind)
            return
        except Exception as exc:
            log.warning("bus.start_failed", kind=bus.kind, error=str(exc), retry_in_s=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
