"""Publishes decisions' lifecycle events from the decision log (the outbox), at least once.

A decision is announced after its transaction commits and then marked; a crash or a
bus outage in between leaves it unmarked and the periodic sweep publishes it later.
Consumers (trace-store) dedupe by event id = decision id. Per tenant the events go out
in seq order, keyed by their `gov:…` session so one intent stays on one partition.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from lifeline_bus import Bus, OutMessage
from lifeline_events import TOPIC_LIFECYCLE

log = structlog.get_logger("lifeline.governance.announcer")


class Announcer:
    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, interval_s: float, batch: int = 500) -> None:
        self._pool, self._bus = pool, bus
        self._interval = interval_s
        self._batch = batch
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def announce(self) -> int:
        """Publish what is unannounced; never raises (the sweep retries)."""
        async with self._lock:
            try:
                return await self._announce()
            except Exception as exc:
                log.warning("governance.announce_failed", error=repr(exc))
                return 0

    async def _announce(self) -> int:
        total = 0
        while True:
            rows = await self._pool.fetch(
                "SELECT tenant_id, seq, event->>'session_id' AS key, event::text AS value "
                "FROM governance.decisions WHERE announced_at IS NULL AND event IS NOT NULL "
                "ORDER BY tenant_id, seq LIMIT $1",
                self._batch,
            )
            if not rows:
                return total
            await self._bus.publish(
                TOPIC_LIFECYCLE, [OutMessage(key=r["key"], value=r["value"].encode()) for r in rows]
            )
            await self._pool.execute(
                "UPDATE governance.decisions SET announced_at = now() "
                "WHERE (tenant_id, seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))",
                [r["tenant_id"] for r in rows],
                [r["seq"] for r in rows],
            )
            total += len(rows)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="governance-announcer")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.announce()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
