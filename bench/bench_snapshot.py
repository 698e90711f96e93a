"""Snapshot service figures on the embedded stack (embedded PostgreSQL + Valkey, real processes).

  1. Projection: 20 sessions x 500 turns through ingest; events/s until snapshot's fold and its
     periodic snapshots (every 100) caught up, against the pure fold in-process (ratio).
  2. On-demand snapshot latency (new state / same state), recap and restore latency, p50/p99.
  3. Export of a 5,000-event session (streamed, redacted), and importing it back: events/s, MB/s.
Prints figures; asserts nothing. `BENCH_SCALE=0.2` shortens every load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from lifeline_events import fold
from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.appends import append
from lifeline_testing.oracle import log_of
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack, start_stack

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def turns(first: int, n: int) -> list[dict]:
    return [
        {
            "event_type": "turn.recorded",
            "turn_id": t,
            "person_id": "p-1",
            "payload": {
                "role": "user" if t % 2 else "assistant",
                "text": f"turn {t}: veneers cost about $800, call me at +1 555 123 {t % 10000:04d}",
                "acts": [
                    {"op": "confirm_fact", "key": f"k{t % 7}", "value": t},
                    {"op": "pin", "id": f"p{t % 5}", "text": f"pin {t}"},
                    {"op": "add_episode", "text": f"episode {t % 40}", "salience": (t % 10) / 10},
                ],
            },
        }
        for t in range(first, first + n)
    ]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def projection(stack: SnapshotStack) -> float:
    sessions, per = 20, int(500 * SCALE) // 100 * 100 or 100
    start = time.perf_counter()
    await asyncio.gather(*(append(stack.ingest.url, f"p-{s}", turns(1, per)) for s in range(sessions)))
    accepted = time.perf_counter()
    conn = await asyncpg.connect(stack.database_url)
    try:
        while True:
            caught_up = await conn.fetchval(
                "SELECT count(*) FROM snapshot.checkpoints WHERE last_seq = $1", per
            )
            if caught_up >= sessions:
                break
            await asyncio.sleep(0.01)
        done = time.perf_counter()
        snaps = await conn.fetchval("SELECT count(*) FROM snapshot.snapshots WHERE session_id LIKE 'p-%'")
    finally:
        await conn.close()
    total = sessions * per
    log = await log_of(stack.ingest.url, "p-0")
    t0 = time.perf_counter()
    for _ in range(3):
        fold(log)
    pure = 3 * len(log) / (time.perf_counter() - t0)
    service = total / (done - start)
    print(
        f"[1] {total} events in {sessions} sessions: accepted {total / (accepted - start):,.0f} ev/s; "
        f"folded+snapshotted by snapshot {service:,.0f} ev/s ({snaps} snapshots), caught up "
        f"{(done - accepted) * 1000:.0f} ms after the last accept; "
        f"pure fold {pure:,.0f} ev/s; service/pure = {service / pure:.2f}"
    )
    return pure


async def backlog(stack: SnapshotStack, pure: float) -> None:
    """Snapshot down while 10,000 events are logged; then the catch-up rate from the bus backlog."""
    sessions, per = 20, int(500 * SCALE) // 100 * 100 or 100
    await asyncio.to_thread(stack.snapshot.kill)
    await asyncio.gather(*(append(stack.ingest.url, f"b-{s}", turns(1, per)) for s in range(sessions)))
    await asyncio.to_thread(stack.snapshot.start)
    conn = await asyncpg.connect(stack.database_url)
    try:
        while True:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE last_seq = $1) AS done, min(updated_at) AS first, "
                "max(updated_at) AS last FROM snapshot.checkpoints WHERE session_id LIKE 'b-%'",
                per,
            )
            if row["done"] >= sessions:
                break
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    commits = (row["last"] - row["first"]).total_seconds()
    settling = await _settling_seconds(stack.snapshot.url)
    rate = sessions * per / settling
    print(
        f"[1b] backlog of {sessions * per} events after a restart: folded+snapshotted at {rate:,.0f} ev/s "
        f"({settling * 1000:.0f} ms settling its bus batches; first to last checkpoint commit "
        f"{commits * 1000:.0f} ms); backlog/pure fold = {rate / pure:.2f}"
    )


async def _settling_seconds(url: str) -> float:
    """Seconds the restarted snapshot spent settling bus batches (`lifeline_bus_batch_seconds`).

    The whole catch-up is batches of up to 2,000 records: timed between the first and the
    last checkpoint commit, a backlog of one batch took no time at all (every checkpoint
    commits at once) and one of five missed the first batch; from the process's start it
    would count the imports.
    """
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lifeline_bus_batch_seconds_sum" and sample.labels.get("group") == "snapshot":
                return float(sample.value)
    raise RuntimeError("snapshot's /metrics has no lifeline_bus_batch_seconds_sum for its group")


async def latencies(stack: SnapshotStack) -> None:
    n = max(20, int(200 * SCALE))
    await append(stack.ingest.url, "lat", turns(1, 50))
    new, same, recap, restore = [], [], [], []
    async with httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(), timeout=30) as c:
        for i in range(n):
            await append(stack.ingest.url, "lat", turns(1000 + i, 1))
            for bucket in (new, same):
                t = time.perf_counter()
                (await c.post("/v1/sessions/lat/snapshots", json={})).raise_for_status()
                bucket.append(time.perf_counter() - t)
            t = time.perf_counter()
            (await c.get("/v1/sessions/lat/recap", params={"lastTurns": 3})).raise_for_status()
            recap.append(time.perf_counter() - t)
        snap_id = (await c.get("/v1/sessions/lat/snapshots")).json()["snapshots"][0]["snapshot_id"]
        for _ in range(n // 2):
            t = time.perf_counter()
            (await c.post(f"/v1/sessions/lat/restore/{snap_id}")).raise_for_status()
            restore.append(time.perf_counter() - t)
    for name, samples in (
        ("snapshot (new state)", new),
        ("snapshot (same state, dedupe)", same),
        ("recap", recap),
        ("restore via ingest", restore),
    ):
        print(
            f"[2] {name}: p50 {pct(samples, 0.5):.1f} ms, p99 {pct(samples, 0.99):.1f} ms "
            f"(n={len(samples)}, median {statistics.median(samples) * 1000:.1f} ms)"
        )


async def export_import(stack: SnapshotStack) -> None:
    events = int(5000 * SCALE)
    for first in range(1, events + 1, 1000):
        await append(stack.ingest.url, "big", turns(first, min(1000, events - first + 1)))
    async with httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(), timeout=120) as c:
        t = time.perf_counter()
        async with c.stream("GET", "/v1/sessions/big/export") as r:
            body = b"".join([chunk async for chunk in r.aiter_bytes()])
        exported = time.perf_counter() - t
        t = time.perf_counter()
        r = await c.post("/v1/sessions/import", content=body)
        r.raise_for_status()
        imported = time.perf_counter() - t
    mb = len(body) / 1e6
    print(
        f"[3] export {events} events ({mb:.1f} MB, streamed, redacted): {exported * 1000:.0f} ms = "
        f"{events / exported:,.0f} ev/s, {mb / exported:.1f} MB/s; import: {imported * 1000:.0f} ms = "
        f"{events / imported:,.0f} ev/s; export/import = {imported / exported:.2f}x the time"
    )


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="lifeline-bench-"))
    pg = start_postgres(data / "pg", durable=False)
    valkey = start_valkey(data / "valkey")
    stack = None
    try:
        stack = await asyncio.to_thread(
            start_stack,
            pg.url,
            valkey.url.rstrip("/") + "/0",
            data,
            snapshot_every="100",
            snapshot_keep="1000",
            export_stream_after_events="1000",
            export_max_mb="200",
        )
        pure = await projection(stack)
        await backlog(stack, pure)
        await latencies(stack)
        await export_import(stack)
    finally:
        if stack:
            stack.kill()
        valkey.stop()
        pg.stop()
        shutil.rmtree(data, ignore_errors=True)  # a run leaves ~1 GB of server data


if __name__ == "__main__":
    asyncio.run(main())
