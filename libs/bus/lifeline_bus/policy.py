"""How a batch is settled, the same on every broker.

Transient failures (database or bus down) are retried with backoff for as long as it
takes, unless the process is stopping: then the batch is left unacknowledged for
redelivery. Any other failure splits the batch so that one poison record cannot hold
back the others; a record that still fails after `max_attempts` goes to the DLQ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog

from lifeline_bus.messages import BatchHandler, Delivery
from lifeline_common.errors import TransientError

log = structlog.get_logger("lifeline.bus")

DeadLetter = Callable[[Delivery, str], Awaitable[None]]


async def _retry_transient(
    handler: BatchHandler, batch: list[Delivery], stopping: asyncio.Event
) -> Mapping[str, str]:
    delay = 0.05
    while True:
        try:
            return await handler(batch)
        except TransientError as exc:
            if stopping.is_set():
                raise
            log.warning("consumer.transient_failure", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def settle(
    handler: BatchHandler,
    batch: list[Delivery],
    *,
    dead_letter: DeadLetter,
    stopping: asyncio.Event,
    max_attempts: int = 3,
) -> None:
    """Handle `batch` until every record is applied or dead-lettered."""
    try:
        rejected = await _retry_transient(handler, batch, stopping)
    except TransientError:
        raise
    except Exception as exc:
        if len(batch) > 1:
            for delivery in batch:
                await settle(handler, [delivery], dead_letter=dead_letter,
                             stopping=stopping, max_attempts=max_attempts)
            return
        rejected = await _retry_single(handler, batch, exc, stopping, max_attempts)
    by_id = {d.id: d for d in batch}
    for delivery_id, reason in rejected.items():
        await dead_letter(by_id[delivery_id], reason)


async def _retry_single(
    handler: BatchHandler, batch: list[Delivery], first: Exception,
    stopping: asyncio.Event, max_attempts: int,
) -> Mapping[str, str]:
    error: Exception = first
    for attempt in range(2, max_attempts + 1):
        log.warning("consumer.handler_failed", error=repr(error), attempt=attempt - 1,
                    delivery=batch[0].id)
        await asyncio.sleep(0.05 * attempt)
        try:
            return await _retry_transient(handler, batch, stopping)
        except TransientError:
            raise
        except Exception as exc:
            error = exc
    return {batch[0].id: f"handler failed {max_attempts} times: {error!r}"[:2000]}
