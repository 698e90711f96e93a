"""Scheduled retention and the storage gauges.

Every `trace_cleanup_interval_s` (and once at start) traces older than
`trace_retention_days` go; in between, the loop keeps today's and tomorrow's
partitions ready (so midnight needs no DDL on the hot path) and refreshes the
gauges. `POST /replay/cleanup` runs the same code with its own `days_to_keep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

import structlog

from lifeline_common.errors import LifelineError
from lifeline_tracestore.domain import day_start
from lifeline_tracestore.metrics import (
    OLDEST_DAY,
    PARTITIONS,
    RETENTION_DAYS,
    RETENTION_RUNS,
    RETENTION_SECONDS,
    TRACES_REMOVED,
)
from lifeline_tracestore.partitions import CleanupReport, Partitions

log = structlog.get_logger("lifeline.tracestore.retention")


class RetentionJob:
    """Runs retention on a timer; `run_once` is also what the cleanup endpoint calls."""

    def __init__(self, partitions: Partitions, *, retention_days: int, interval_s: float,
                 gauges_interval_s: float) -> None:
        self._partitions = partitions
        self.retention_days = retention_days
        self._interval_s = interval_s
        self._gauges_interval_s = gauges_interval_s
        self._task: asyncio.Task[None] | None = None
        RETENTION_DAYS.set(retention_days)

    async def run_once(self, trigger: str, days_to_keep: int | None = None, *,
                       tenant: str | None = None) -> CleanupReport:
        """Apply retention to every tenant (`tenant=None`, the platform's job) or to one."""
        started = time.perf_counter()
        keep = self.retention_days if days_to_keep is None else days_to_keep
        now = datetime.now(UTC)
        try:
            if tenant is None:
                report = await self._partitions.cleanup(keep, now=now)
            else:
                report = await self._partitions.cleanup_tenant(tenant, keep, now=now)
        except LifelineError:
            RETENTION_RUNS.labels(trigger, "error").inc()
            raise
        RETENTION_RUNS.labels(trigger, "ok").inc()
        RETENTION_SECONDS.observe(time.perf_counter() - started)
        TRACES_REMOVED.labels("partition_dropped").inc(report.dropped_traces)
        TRACES_REMOVED.labels("row_trimmed").inc(report.deleted_traces)
        await self.refresh_gauges()
        return report

    async def refresh_gauges(self) -> None:
        """Make today's and tomorrow's partitions exist and publish what is kept."""
        today = datetime.now(UTC).date()
        await self._partitions.ensure({today, today + timedelta(days=1)})
        days = await self._partitions.refresh()
        PARTITIONS.set(len(days))
        if days:
            OLDEST_DAY.set(day_start(days[0]).timestamp())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="trace-retention")

    async def _run(self) -> None:
        next_cleanup = time.monotonic()
        while True:
            try:
                if time.monotonic() >= next_cleanup:
                    next_cleanup = time.monotonic() + self._interval_s
                    await self.run_once("scheduled")
                else:
                    await self.refresh_gauges()
            except LifelineError as exc:
                log.warning("retention.failed", error=str(exc))
            wait = min(self._gauges_interval_s, max(0.0, next_cleanup - time.monotonic()))
            await asyncio.sleep(wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
