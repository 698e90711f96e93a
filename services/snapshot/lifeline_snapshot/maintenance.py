"""The periodic job: announce snapshots a crash or bus outage left unannounced, and
delete snapshots past their age (count retention runs with every new snapshot)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.handlers import RETAINED

log = structlog.get_logger("lifeline.snapshot")


class Maintenance:
    def __init__(self, pool: asyncpg.Pool, announcer: Announcer, *, interval_s: float,
                 max_age_days: float) -> None:
        self._pool = pool
        self._announcer = announcer
        self._interval = interval_s
        self._max_age_days = max_age_days
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="snapshot-maintenance")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run_once(self) -> dict[str, int]:
        announced = await self._announcer.announce()
        expired = await store.delete_older_than(self._pool, self._max_age_days)
        RETAINED.labels("age").inc(expired)
        if announced or expired:
            log.info("snapshot.maintenance", announced=announced, expired=expired)
        return {"announced": announced, "expired": expired}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("snapshot.maintenance_failed", error=repr(exc))
