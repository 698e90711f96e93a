"""The periodic job: announce snapshots a crash or bus outage left unannounced, delete
snapshots past their age, and re-apply count retention everywhere (it also runs with
every new snapshot; this catches a lowered LIFELINE_SNAPSHOT_KEEP)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.metrics import RETAINED, STORED, STORED_BYTES

log = structlog.get_logger("lifeline.snapshot")


class Maintenance:
    def __init__(self, pool: asyncpg.Pool, announcer: Announcer, *, interval_s: float,
                 max_age_days: float, keep: int) -> None:
        self._keep = keep
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
        surplus = await store.retain_newest_everywhere(self._pool, self._keep)
        RETAINED.labels("age").inc(expired)
        RETAINED.labels("count").inc(surplus)
        count, size = await store.storage(self._pool)
        STORED.set(count)
        STORED_BYTES.set(size)
        if announced or expired or surplus:
            log.info("snapshot.maintenance", announced=announced, expired=expired, surplus=surplus)
        return {"announced": announced, "expired": expired, "surplus": surplus}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("snapshot.maintenance_failed", error=repr(exc))
