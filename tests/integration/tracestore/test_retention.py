"""Retention by day partitions: the cleanup endpoint and the scheduled job on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from lifeline_events import TOPIC_EVENTS
from lifeline_testing.processes import auth
from lifeline_testing.topics import produce_raw
from lifeline_testing.tracestore import wait_session_traces
from lifeline_testing.waiting import eventually
from lifeline_tracestore.domain import day_of, day_start, partition_name
from lifeline_tracestore.partitions import Partitions

from .helpers import logged


async def _partitions(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                "WHERE i.inhparent = 'traces.event_traces'::regclass")
    finally:
        await conn.close()
    return {r["relname"] for r in rows}


async def _trace_seqs(database_url: str, session: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT seq FROM traces.event_traces WHERE session_id = $1 ORDER BY seq",
                                session)
    finally:
        await conn.close()
    return [r["seq"] for r in rows]


async def test_cleanup_drops_old_days_and_trims_the_boundary_day(fresh_database, redis_url, procs) -> None:
    """Whole days past the cutoff are dropped as partitions; the straddling day loses only older rows."""
    store = procs.tracestore(fresh_database, redis_url, trace_retention_days=3650)
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=30)
    boundary = day_start(day_of(cutoff))
    times = [now - timedelta(days=40), now - timedelta(days=35), boundary + (cutoff - boundary) / 2,
             cutoff + (boundary + timedelta(days=1) - cutoff) / 2, now]
    await produce_raw(redis_url, TOPIC_EVENTS, [logged("old", i + 1, t) for i, t in enumerate(times)])
    await wait_session_traces(store.url, "p-1", "old", 5)
    old_days = {partition_name(day_of(t)) for t in times[:2]}
    assert old_days <= await _partitions(fresh_database)
    async with httpx.AsyncClient(base_url=store.url) as c:
        refused = await c.post("/replay/cleanup", params={"days_to_keep": 30}, headers=auth("test-read-only"))
        assert refused.status_code == 403
        r = await c.post("/replay/cleanup", params={"days_to_keep": 30}, headers=auth())
        assert r.status_code == 200, r.text
        report = r.json()
        assert sorted(report["dropped_partitions"]) == sorted(old_days)
        assert (report["dropped_traces"], report["trimmed_traces"], report["deleted_count"]) == (2, 1, 3)
        bad = await c.post("/replay/cleanup", params={"days_to_keep": -1}, headers=auth())
        assert bad.status_code == 422 and "days_to_keep" in bad.json()["detail"]
        metrics = (await c.get("/metrics")).text
    assert not old_days & await _partitions(fresh_database)
    assert partition_name(day_of(cutoff)) in await _partitions(fresh_database)
    assert await _trace_seqs(fresh_database, "old") == [4, 5]
    assert 'lifeline_tracestore_traces_removed_total{reason="partition_dropped"} 2.0' in metrics


async def test_scheduled_job_applies_the_retention_setting(fresh_database, redis_url, procs) -> None:
    """With LIFELINE_TRACE_RETENTION_DAYS=30 the timer removes a 40-day-old trace and keeps today's."""
    store = procs.tracestore(fresh_database, redis_url, trace_retention_days=30,
                             trace_cleanup_interval_s=0.3, trace_metrics_interval_s=0.1)
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    await produce_raw(redis_url, TOPIC_EVENTS, [logged("s", 1, old), logged("s", 2, now)])

    async def removed_by_schedule() -> bool:
        async with httpx.AsyncClient(base_url=store.url) as c:
            text = (await c.get("/metrics")).text
        return ('lifeline_tracestore_traces_removed_total{reason="partition_dropped"} 1.0' in text
                and await _trace_seqs(fresh_database, "s") == [2])

    await eventually(removed_by_schedule, timeout=20, what="the scheduled job to drop the 40-day-old trace")
    assert partition_name(day_of(old)) not in await _partitions(fresh_database)


async def test_a_dropped_day_counts_the_rows_of_an_insert_still_in_flight(pool: asyncpg.Pool,
                                                                         fresh_database: str) -> None:
    """A batch inserting into an old day while cleanup drops it: the drop waits for the batch's
    commit and reports its row (counted before the drop's locks, it read 0 and the row went
    uncounted: the removal metric missed it)."""
    partitions = Partitions(pool)
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    await partitions.ensure({day_of(old)})
    async with pool.acquire() as conn:
        inserting = conn.transaction()
        await inserting.start()
        await conn.execute(
            "INSERT INTO traces.event_traces (trace_id, ts, tenant_id, session_id, seq, event_type, "
            "event_data, source) VALUES (gen_random_uuid(), $1, 'default', 's', 1, 'turn', '{}', 'events')",
            old)
        cleanup = asyncio.create_task(partitions.cleanup(30, now=now))
        while not await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'relation' "
                                      "AND NOT granted"):
            assert not cleanup.done(), cleanup  # it must wait for the insert's lock
            await asyncio.sleep(0.01)
        await inserting.commit()
    report = await cleanup
    assert report.dropped_partitions == [partition_name(day_of(old))]
    assert report.dropped_traces == 1
    assert partition_name(day_of(old)) not in await _partitions(fresh_database)
