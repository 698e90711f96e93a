"""Scale-out on Kafka, measured: one replay consumer against two replicas of it (issue 10).

Per run: a fresh tansu (topics of 8 partitions), a fresh database and Valkey db, one ingest
and N replay processes in one consumer group. A burst of events in HTTP batches of 100
across 64 sessions goes to ingest; timed until replay's checkpoints hold every event.
Printed per N: events/s drained and CPU µs per event of replay (all replicas together),
ingest, PostgreSQL, Valkey and tansu. On 2 cores a second replica can only use what the
first leaves idle, so a small gain is the expected result; the figures say how small.
Prints figures; asserts nothing. `BENCH_SCALE` scales the burst (default 20,000 events),
`BENCH_REPEATS` (default 3) repeats each N; medians are printed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx

from bench.cpu import CpuMeter, format_cpu, pids_of, record
from lifeline_servers import start_postgres, start_tansu, start_valkey
from lifeline_testing.builders import turn
from lifeline_testing.databases import create_database
from lifeline_testing.processes import ServiceProcess, auth
from lifeline_testing.replay_stack import ingest_process, replay_process

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SESSIONS, BATCH = 64, 100


async def _drained(db: str, total: int) -> None:
    conn = await asyncpg.connect(db)
    try:
        while (await conn.fetchval("SELECT coalesce(sum(last_seq), 0) FROM replay.checkpoints")) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def one_run(replicas: int, pg_url: str, redis_url: str, logs: Path,
                  servers: dict[str, int]) -> dict[str, float]:
    kafka = start_tansu()
    db = await create_database(pg_url, "replicas")
    ingest = ingest_process(db, kafka.url, log_dir=logs)
    consumers: list[ServiceProcess] = []
    try:
        ingest.start(timeout=90)
        consumers = [replay_process(db, kafka.url, redis_url, ingest.url, log_dir=logs,
                                    projection_max_records="1000") for _ in range(replicas)]
        with ThreadPoolExecutor(replicas) as pool:
            for started in [pool.submit(c.start, timeout=90) for c in consumers]:
                started.result()
        per_session = max(1, int(20_000 * SCALE) // SESSIONS // BATCH) * BATCH
        total = per_session * SESSIONS
        run = uuid.uuid4().hex[:6]
        pids = {**servers, **pids_of(ingest=ingest, tansu=kafka),
                **{f"replay-{i}": c.proc.pid for i, c in enumerate(consumers) if c.proc}}
        meter = CpuMeter(pids).start()
        started_at = time.perf_counter()
        async with httpx.AsyncClient(base_url=ingest.url, headers=auth(), timeout=120) as h:
            async def writer(s: int) -> None:
                for first in range(1, per_session + 1, BATCH):
                    body = {"events": [turn(t, f"turn {t} about prices", person_id=f"p-{s}")
                                       for t in range(first, first + BATCH)]}
                    (await h.post(f"/v1/sessions/{run}-{s}/events", json=body)).raise_for_status()
            await asyncio.gather(*(writer(s) for s in range(SESSIONS)))
        await _drained(db, total)
        seconds = time.perf_counter() - started_at
        meter.stop()
        per = meter.per_event_us(total)
        per["replay"] = sum(v for k, v in per.items() if k.startswith("replay-"))
        kept = {k: v for k, v in per.items() if not k.startswith("replay-")}
        return {"events_per_s": total / seconds, **kept}
    finally:
        for c in consumers:
            c.kill()
        ingest.kill()
        kafka.stop()


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    pg = start_postgres(root / "pg", durable=True)
    valkey = start_valkey(root / "valkey")
    redis_url = valkey.url.rstrip("/") + "/0"
    print(f"bench_replicas: Kafka (tansu, 8 partitions), scale {SCALE}, {REPEATS} runs per replica count")
    try:
        for replicas in (1, 2):
            runs = []
            for _ in range(REPEATS):
                figures = await one_run(replicas, pg.url, redis_url, root,
                                        pids_of(postgres=pg, valkey=valkey))
                runs.append(figures)
                print(f"  {replicas} replay process(es): {figures['events_per_s']:,.0f} events/s drained; "
                      f"{format_cpu({k: v for k, v in figures.items() if k != 'events_per_s'})}", flush=True)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            cpu = {k: v for k, v in med.items() if k != "events_per_s"}
            print(f"median of {REPEATS} — {replicas} replica(s): {med['events_per_s']:,.0f} events/s\n"
                  f"    {format_cpu(cpu)}")
            record("replicas", f"kafka, {replicas} replay process(es)", med["events_per_s"], cpu)
    finally:
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
