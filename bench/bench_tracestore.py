"""trace-store benchmark on the embedded stack (issue 4): ingestion, queries, retention.

  1. Sustained ingestion: turns (with acts) produced onto lifeline.events.v1 (Redis) as
     fast as a pipeline allows → traces stored (fold + one row per event): traces/s, and
     recorded→stored latency p50/p99 under that burst.
  2. Query latency for a person with 100,000 traces (inserted directly with
     generate_series over 10 day partitions, plus 100,000 of other persons):
     GET /replay/person/{id} first page and a deep page (offset 99,950), p50/p99.
  3. Retention: one day partition of 1,000,000 traces removed by POST /replay/cleanup
     (DROP of the partition) against a row-by-row DELETE of the same rows.
Prints figures; asserts nothing. `BENCH_SCALE=0.2` shortens every load;
`BENCH_PARTS=ingestion` (a comma-separated subset of ingestion, queries, retention,
fold) runs only those parts; `fold` (not run by default) drives trace-store's fold
(`TraceFold.apply`) in this process against the same PostgreSQL, 200 sessions with
`BENCH_FOLD_PER_BATCH` (default 1) events of each per transaction, and prints the CPU
per event of this process and of PostgreSQL. After the burst it prints the traces' size on disk (heap,
TOAST and indexes), since the row's storage trades CPU against disk.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from bench.cpu import CpuMeter, format_cpu, pids_of, record, tree_cpu_seconds
from lifeline_events import TOPIC_EVENTS, Event, parse_new_event
from lifeline_projection import SessionKey
from lifeline_projection.batch import Run
from lifeline_servers import start_postgres, start_valkey
from lifeline_store import create_pool
from lifeline_testing.processes import ServiceProcess, auth
from lifeline_tracestore.domain import day_of
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import TraceFold

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
PARTS = set(os.environ.get("BENCH_PARTS", "ingestion,queries,retention").split(","))
FOLD_PER_BATCH = int(os.environ.get("BENCH_FOLD_PER_BATCH", "1"))
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
EVENT_DATA = ('{"event_type": "turn.recorded", "seq": 1, "payload": {"role": "user", "text": '
              '"I would like to ask about veneers and what they cost here", "intent": "service_inquiry"}}')
SNAPSHOT = ('{"stage": "discovery", "seq": 1, "turn_count": 1, "confirmed_facts": {"service": "veneers"}, '
            '"summary": "The user asked about veneers and prices.", "recent_turns": [{"seq": 1, '
            '"role": "user", "text": "I would like to ask about veneers and what they cost here", '
            '"salience": 0.4}], "objectives": [], "pins": [], "episodes": [], "flags": {}, '
            '"error_counts": {}}')
_INSERT = """
INSERT INTO traces.event_traces (trace_id, ts, tenant_id, person_id, session_id, seq, event_type, event_data,
                                 context_snapshot, otel_trace_id, source)
SELECT gen_random_uuid(), $1::timestamptz - (g * $2::double precision) * interval '1 millisecond',
       'default', $3, $4 || (g / 100)::text, g % 100 + 1, 'turn.recorded', $5::text::json,
       $6::text::json, NULL, 'events'
FROM generate_series(1, $7::int) AS g"""


_DRAINED = "SELECT coalesce(sum(last_seq), 0) FROM traces.checkpoints WHERE session_id LIKE 'b%'"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def turn_event(session: str, seq: int, recorded: datetime) -> bytes:
    acts = [{"op": "set_stage", "stage": f"stage-{seq % 5}"},
            {"op": "confirm_fact", "key": f"fact-{seq % 7}", "value": seq}] if seq % 3 == 0 else []
    raw = {"event_type": "turn.recorded", "turn_id": seq, "person_id": f"p-{session}", "traceparent": TP,
           "payload": {"role": "user" if seq % 2 else "assistant", "intent": "service_inquiry", "acts": acts,
                       "text": f"turn {seq}: a question about veneers, whitening and prices"}}
    new = parse_new_event(raw, session_id=session, tenant_id="default")
    return Event.from_new(new, seq=seq, recorded_at=recorded).to_json_bytes()


async def ingestion(redis_url: str, db: str, pids: dict[str, int]) -> None:
    sessions, per_session = int(200 * SCALE) or 1, 100
    total = sessions * per_session
    now = datetime.now(UTC)
    bodies = [(f"b{s}", turn_event(f"b{s}", n, now))
              for n in range(1, per_session + 1) for s in range(sessions)]
    meter = CpuMeter(pids).start()
    client = aioredis.from_url(redis_url)
    started = time.perf_counter()
    for i in range(0, total, 1000):
        async with client.pipeline(transaction=False) as pipe:
            for key, body in bodies[i:i + 1000]:
                pipe.xadd(TOPIC_EVENTS, {"data": body, "key": key, "traceparent": TP})
            await pipe.execute()
    produced = time.perf_counter()
    await client.aclose()
    conn = await asyncpg.connect(db)
    try:
        # The checkpoints say how far the traces are stored (one row per session): a
        # count(*) over the growing table every 50 ms would be PostgreSQL CPU of its own.
        while await conn.fetchval(_DRAINED) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stored = time.perf_counter()
        meter.stop()
        disk = await disk_usage(conn)
        lags = [r[0] for r in await conn.fetch(
            "SELECT extract(epoch FROM stored_at - ts) FROM traces.event_traces WHERE session_id LIKE 'b%'")]
    finally:
        await conn.close()
    print(f"[1] ingestion: {total} events ({sessions} sessions x {per_session}) produced in "
          f"{produced - started:.2f}s; stored {total / (stored - started):,.0f} traces/s sustained; "
          f"recorded->stored p50 {pct(lags, 0.5):.2f}s p99 {pct(lags, 0.99):.2f}s (burst backlog included)")
    per = meter.per_event_us(total)
    print(f"    {format_cpu(per)}")
    print("    on disk: " + ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in disk.items())
          + f" ({sum(disk.values()) / total:,.0f} bytes/trace)")
    record("tracestore", "consume lifeline.events.v1", total / (stored - started), per)


async def disk_usage(conn: asyncpg.Connection) -> dict[str, int]:
    """Bytes of every trace partition's heap, TOAST and indexes."""
    row = await conn.fetchrow(
        "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) AS heap, "
        "coalesce(sum(pg_total_relation_size(c.reltoastrelid)) FILTER (WHERE c.reltoastrelid <> 0), 0) "
        "AS toast, "
        "coalesce(sum(pg_indexes_size(c.oid)), 0) AS indexes "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'traces.event_traces'::regclass")
    return {"heap": int(row["heap"]), "toast": int(row["toast"]), "indexes": int(row["indexes"])}


async def insert_rows(conn: asyncpg.Connection, *, newest: datetime, step_ms: float, person: str,
                      session_prefix: str, rows: int) -> float:
    started = time.perf_counter()
    await conn.execute(_INSERT, newest, step_ms, person, session_prefix, EVENT_DATA, SNAPSHOT, rows)
    return time.perf_counter() - started


async def queries(url: str, db: str) -> None:
    person_rows = 100_000
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    now = datetime.now(UTC)
    await Partitions(pool).ensure({day_of(now - timedelta(days=d)) for d in range(0, 11)})
    step = 10 * 86_400_000 / person_rows  # 100,000 traces over ten days
    async with pool.acquire() as conn:
        took = await insert_rows(conn, newest=now, step_ms=step, person="p-big", session_prefix="big-",
                                 rows=person_rows)
        await insert_rows(conn, newest=now, step_ms=step, person="p-other", session_prefix="other-",
                          rows=person_rows)
        await conn.execute("VACUUM ANALYZE traces.event_traces")  # what autovacuum does after inserts
    await pool.close()
    print(f"[2] inserted {person_rows:,} traces of one person (+{person_rows:,} of another) over 10 days "
          f"with generate_series in {took:.1f}s each, then VACUUM ANALYZE (as autovacuum would)")
    async with httpx.AsyncClient(base_url=url, headers=auth(), timeout=30) as c:
        for label, offset, runs in [("first page", 0, 200), ("deep page", person_rows - 50, 50)]:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                r = await c.get("/replay/person/p-big", params={"offset": offset, "limit": 50})
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            body = r.json()
            print(f"    GET /replay/person/p-big {label} (offset {offset}, limit 50, total_count "
                  f"{body['total_count']:,}): p50 {statistics.median(times):.1f} ms, "
                  f"p99 {pct(times, 0.99):.1f} ms")


async def retention(url: str, db: str) -> None:
    rows = int(1_000_000 * SCALE)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    partitions = Partitions(pool)
    old_day = day_of(datetime.now(UTC) - timedelta(days=40))
    newest = datetime.combine(old_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23, minutes=59)
    step = 86_000_000 / rows
    await partitions.ensure({old_day})
    async with pool.acquire() as conn:
        took = await insert_rows(conn, newest=newest, step_ms=step, person="p-old", session_prefix="old-",
                                 rows=rows)
        await conn.execute("VACUUM ANALYZE traces.event_traces")
    print(f"[3] one day partition ({old_day}) of {rows:,} traces inserted in {took:.1f}s")
    async with httpx.AsyncClient(base_url=url, headers=auth(), timeout=600) as c:
        t = time.perf_counter()
        r = await c.post("/replay/cleanup", params={"days_to_keep": 30})
        drop_s = time.perf_counter() - t
    r.raise_for_status()
    report = r.json()
    print(f"    POST /replay/cleanup: dropped {report['dropped_traces']:,} traces "
          f"({', '.join(report['dropped_partitions'])}) in {drop_s * 1000:.0f} ms")
    partitions.forget({old_day})
    await partitions.ensure({old_day})
    async with pool.acquire() as conn:
        await insert_rows(conn, newest=newest, step_ms=step, person="p-old", session_prefix="old-", rows=rows)
        await conn.execute("VACUUM ANALYZE traces.event_traces")
        cutoff = datetime.now(UTC) - timedelta(days=30)
        t = time.perf_counter()
        status = await conn.execute("DELETE FROM traces.event_traces WHERE ts < $1", cutoff)
        delete_s = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("VACUUM traces.event_traces")
        vacuum_s = time.perf_counter() - t
    await pool.close()
    print(f"    row-by-row DELETE of the same {int(status.split()[-1]):,} traces: {delete_s * 1000:,.0f} ms, "
          f"+ the VACUUM that reclaims them {vacuum_s * 1000:,.0f} ms -> dropping the partition is "
          f"{delete_s / drop_s:,.1f}x faster than the DELETE, "
          f"{(delete_s + vacuum_s) / drop_s:,.1f}x than DELETE + VACUUM")


async def fold_in_process(db: str, pg_pid: int) -> None:
    """TraceFold.apply per transaction, as the projection calls it (no bus, no checkpoints)."""
    sessions, per_session, per_batch = 200, max(FOLD_PER_BATCH, int(50 * SCALE)), FOLD_PER_BATCH
    now = datetime.now(UTC)
    raws = {s: [turn_event(f"f{s}", n, now) for n in range(1, per_session + 1)] for s in range(sessions)}
    batches = [{SessionKey("default", f"f{s}"): Run((Event.from_json(r), r) for r in raws[s][i:i + per_batch])
                for s in range(sessions)} for i in range(0, per_session, per_batch)]
    pool = await create_pool(db)
    partitions = Partitions(pool)
    await partitions.ensure({day_of(now)})
    fold = TraceFold(partitions, Freshness(pool, max_wait_ms=10))
    cpu, pg = time.process_time(), tree_cpu_seconds(pg_pid)
    for batch in batches:
        async with pool.acquire() as conn, conn.transaction():
            await fold.apply(conn, batch)
    cpu, pg = time.process_time() - cpu, tree_cpu_seconds(pg_pid) - pg
    await pool.close()
    total = sessions * (per_session // per_batch) * per_batch
    print(f"[4] fold in process: {total:,} events, {sessions} sessions x {per_batch} per transaction: "
          f"this process {cpu * 1e6 / total:,.0f} · postgres {pg * 1e6 / total:,.0f} CPU µs/event")


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-tracestore-"))
    pg = start_postgres(root / "pg")
    valkey = start_valkey(root / "valkey")
    redis_url = valkey.url.rstrip("/") + "/0"
    store = ServiceProcess("lifeline_tracestore", {
        "LIFELINE_DATABASE_URL": pg.url, "LIFELINE_BUS_URL": redis_url, "LIFELINE_REDIS_URL": redis_url,
        "LIFELINE_TRACE_RETENTION_DAYS": "3650", "LIFELINE_TRACE_CONSUMER_MAX_RECORDS": "1000",
        "LIFELINE_INGEST_URL": "http://127.0.0.1:9"}, log_dir=root)
    try:
        store.start(timeout=60)
        if "ingestion" in PARTS:
            await ingestion(redis_url, pg.url, pids_of(tracestore=store, postgres=pg, valkey=valkey))
        if "queries" in PARTS:
            await queries(store.url, pg.url)
        if "retention" in PARTS:
            await retention(store.url, pg.url)
        if "fold" in PARTS:
            await fold_in_process(pg.url, pids_of(postgres=pg)["postgres"])
    finally:
        store.kill()
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)  # a run leaves ~1 GB of server data


if __name__ == "__main__":
    asyncio.run(main())
