"""Day partitions of `traces.event_traces`: created on demand, dropped by retention.

Partition DDL never runs inside a data transaction: the consumer asks for the days
a batch needs first (`ensure`), in a short transaction of its own under an advisory
lock, so replicas creating the same day do not collide. Cleanup drops whole days
(`DROP TABLE` of the partition, with a lock timeout so it never queues readers for
long; its rows are counted under the drop's own locks, so a batch still inserting into
that day is counted, not lost from the report) and trims the one day that straddles
the cutoff with a row-wise DELETE (after giving the first kept row of each chain its
context, contexts.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
import structlog

from lifeline_store import wrap_errors
from lifeline_tracestore.contexts import keep_chains
from lifeline_tracestore.domain import day_start, partition_day, partition_name, plan_retention

log = structlog.get_logger("lifeline.tracestore.partitions")
_DDL_LOCK = 0x54524143_45_01  # "TRACE" + 1: partition DDL
_CLEANUP_LOCK = 0x54524143_45_02  # one cleanup at a time across replicas
_LIST = """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'traces.event_traces'::regclass"""


@dataclass(frozen=True)
class CleanupReport:
    cutoff: datetime
    dropped_partitions: list[str]
    dropped_traces: int
    deleted_traces: int

    @property
    def removed(self) -> int:
        return self.dropped_traces + self.deleted_traces


class Partitions:
    """This process's view of which days have a partition (refreshed on a miss)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known: set[date] = set()

    async def refresh(self) -> list[date]:
        with wrap_errors("list trace partitions"):
            rows = await self._pool.fetch(_LIST)
        days = {d for r in rows if (d := partition_day(r["relname"])) is not None}
        self._known = days
        return sorted(days)

    def missing(self, days: Iterable[date]) -> set[date]:
        return set(days) - self._known

    def forget(self, days: Iterable[date]) -> None:
        """A partition we thought existed did not (another replica dropped it)."""
        self._known -= set(days)

    async def ensure(self, days: Iterable[date]) -> None:
        """Create the partitions of `days` that do not exist yet."""
        for day in sorted(self.missing(days)):
            name = partition_name(day)
            lower, upper = day_start(day), day_start(day + timedelta(days=1))
            with wrap_errors(f"create partition {name}"):
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL lock_timeout = '10s'")
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                    await conn.execute(
                        f"CREATE TABLE IF NOT EXISTS traces.{name} PARTITION OF traces.event_traces "
                        f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')")
            self._known.add(day)
            log.info("partition.ready", partition=name)

    async def cleanup(self, days_to_keep: int, *, now: datetime) -> CleanupReport:
        """Remove traces older than `now - days_to_keep`: drop whole days, trim the boundary day."""
        started = time.perf_counter()
        with wrap_errors("trace retention"):
            async with self._pool.acquire() as conn:
                await conn.execute("SELECT pg_advisory_lock($1)", _CLEANUP_LOCK)
                try:
                    plan = plan_retention(await self.refresh(), now=now, days_to_keep=days_to_keep)
                    dropped = [await self._drop(conn, day) for day in plan.drop]
                    deleted = 0
                    if plan.trim is not None:
                        table = f"traces.{partition_name(plan.trim)}"
                        async with conn.transaction():
                            # rows kept right after trimmed ones keep their context (contexts.py)
                            await keep_chains(conn, table, "{t}.ts < $1", plan.cutoff)
                            status = await conn.execute(f"DELETE FROM {table} WHERE ts < $1", plan.cutoff)
                        deleted = int(status.split()[-1])
                finally:
                    await conn.execute("SELECT pg_advisory_unlock($1)", _CLEANUP_LOCK)
        report = CleanupReport(plan.cutoff, [partition_name(d) for d in plan.drop],
                               sum(dropped), deleted)
        log.info("retention.done", cutoff=report.cutoff.isoformat(), dropped=report.dropped_partitions,
                 dropped_traces=report.dropped_traces, deleted_traces=deleted,
                 took_ms=round((time.perf_counter() - started) * 1000, 1))
        return report

    async def cleanup_tenant(self, tenant: str, days_to_keep: int, *, now: datetime) -> CleanupReport:
        """Remove one tenant's traces older than `now - days_to_keep` (rows; partitions stay)."""
        cutoff = now - timedelta(days=days_to_keep)
        with wrap_errors("trace retention of one tenant"):
            async with self._pool.acquire() as conn, conn.transaction():
                await keep_chains(conn, "traces.event_traces", "{t}.tenant_id = $1 AND {t}.ts < $2",
                                  tenant, cutoff)
                status = await conn.execute(
                    "DELETE FROM traces.event_traces WHERE tenant_id = $1 AND ts < $2", tenant, cutoff)
        deleted = int(status.split()[-1])
        log.info("retention.tenant_done", tenant=tenant, cutoff=cutoff.isoformat(), deleted_traces=deleted)
        return CleanupReport(cutoff, [], 0, deleted)

    async def _drop(self, conn: asyncpg.Connection, day: date) -> int:
        name = partition_name(day)
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
            if await conn.fetchval("SELECT to_regclass($1)", f"traces.{name}") is None:
                self._known.discard(day)
                return 0
            # the locks DROP takes (parent first), taken before counting: an insert still in
            # flight into this day commits first, and its rows are counted with the rest
            await conn.execute(f"LOCK TABLE traces.event_traces, traces.{name} IN ACCESS EXCLUSIVE MODE")
            count = await conn.fetchval(f"SELECT count(*) FROM traces.{name}")
            await conn.execute(f"DROP TABLE traces.{name}")
        self._known.discard(day)
        return int(count)
