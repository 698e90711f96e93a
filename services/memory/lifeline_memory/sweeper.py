"""The periodic safety net: persons left dirty and versions left unannounced.

A crash between the projection's commit and the consolidation leaves ``dirty_since``
set; a crash or bus outage between a version's commit and its publish leaves it
unannounced. Every ``LIFELINE_MEMORY_SWEEP_INTERVAL_S`` both are finished here.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from lifeline_memory.announcer import Announcer
from lifeline_memory.consolidator import Consolidator

log = structlog.get_logger("lifeline.memory")


class Sweeper:
    def __init__(
        self, pool: asyncpg.Pool, consolidator: Consolidator, announcer: Announcer, *, interval_s: float
    ) -> None:
        self._pool = pool
        self._consolidator = consolidator
        self._announcer = announcer
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="memory-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        settings_done = False
        while True:
            await self.sweep()
            if not settings_done:
                settings_done = await self.resettle()
            await asyncio.sleep(self._interval)

    async def resettle(self, batch: int = 200) -> bool:
        """Recompute profiles made under other settings (half-life, labels, thresholds …):
        a new version with reason ``settings`` only where the content hash changes. Returns
        True once every profile carries the current settings hash; never raises."""
        current = self._consolidator.settings_hash
        try:
            while True:
                rows = await self._pool.fetch(
                    "SELECT tenant_id, person_id FROM memory.persons WHERE profile IS NOT NULL "
                    "AND profile->>'settings_hash' IS DISTINCT FROM $1 LIMIT $2", current, batch)
                for r in rows:
                    await self._consolidator.consolidate(r["tenant_id"], r["person_id"], reason="settings")
                await self._announcer.announce()
                if len(rows) < batch:
                    return True
        except Exception as exc:
            log.warning("memory.resettle_failed", error=repr(exc))
            return False

    async def sweep(self) -> int:
        """Consolidate dirty persons, then publish what is unannounced; never raises."""
        done = 0
        try:
            rows = await self._pool.fetch(
                "SELECT tenant_id, person_id, dirty_session, dirty_seq, dirty_traceparent "
                "FROM memory.persons "
                "WHERE dirty_since IS NOT NULL ORDER BY dirty_since LIMIT 200"
            )
            for r in rows:
                await self._consolidator.consolidate(
                    r["tenant_id"],
                    r["person_id"],
                    reason="session_finished",
                    source_session=r["dirty_session"],
                    source_seq=r["dirty_seq"],
                    traceparent=r["dirty_traceparent"],
                )
                done += 1
            await self._announcer.announce()
        except Exception as exc:
            log.warning("memory.sweep_failed", error=repr(exc))
        return done
