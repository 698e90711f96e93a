"""One ingest process against two on one database: throughput and CPU per event.

Two ingest processes may serve appends to the same sessions at once (the log's primary
key keeps `seq` gapless; the integration tests prove it); this measures what the second
process buys. Each run: a fresh database on one embedded PostgreSQL and Valkey, N ingest
processes as `make run` configures them (each may lead the relay; one does), and
  1. HTTP batches of 100 across 64 sessions from 8 clients, the clients spread over the
     processes so that every session is written through every process;
  2. single-event requests from 32 clients, spread the same way, for 10 s × BENCH_SCALE.
Reported: events/s accepted and published (every logged row marked published), CPU µs
per event of the ingest processes together, PostgreSQL and Valkey, and whether each
session's `seq` ran 1..n without a gap. Medians of BENCH_REPEATS (default 3), the
runs of 1 and 2 processes interleaved. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from bench.bench_ingest import _session, count_rows, turn, wait_published
from bench.cpu import CpuMeter, format_cpu, record, server_pid
from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.databases import create_database
from lifeline_testing.processes import ServiceProcess

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SESSIONS = 64

Load = Callable[[list[str]], Awaitable[int]]


async def batches(urls: list[str]) -> int:
    """HTTP batches of 100; client c writes through process c % N."""
    clients, batch = 8, 100
    per_client = max(1, int(25_000 * SCALE) // (clients * batch))
    turns = itertools.count(1)

    async def client(h: aiohttp.ClientSession, c: int) -> None:
        url = urls[c % len(urls)]
        for i in range(per_client):
            body = orjson.dumps({"events": [turn(next(turns)) for _ in range(batch)]})
            async with h.post(f"{url}/v1/sessions/pair-{(c + i * clients) % SESSIONS}/events",
                              data=body) as r:
                r.raise_for_status()

    async with _session() as h:
        await asyncio.gather(*(client(h, c) for c in range(clients)))
    return clients * per_client * batch


async def singles(urls: list[str]) -> int:
    """Single-event requests from 32 clients; client c writes through process c % N."""
    clients, seconds = 32, max(3.0, 10 * SCALE)
    turns = itertools.count(10_000_000)
    done = 0

    async def client(h: aiohttp.ClientSession, c: int) -> None:
        nonlocal done
        url, stop = urls[c % len(urls)], time.perf_counter() + seconds
        while time.perf_counter() < stop:
            async with h.post(f"{url}/v1/sessions/one-{c % 16}/events",
                              data=orjson.dumps(turn(next(turns)))) as r:
                r.raise_for_status()
            done += 1

    async with _session() as h:
        await asyncio.gather(*(client(h, c) for c in range(clients)))
    return done


async def _gapless(db: str) -> bool:
    conn = await asyncpg.connect(db)
    try:
        return bool(await conn.fetchval(
            "SELECT coalesce(bool_and(n = top AND low = 1), true) FROM (SELECT count(*) AS n, "
            "max(seq) AS top, min(seq) AS low FROM ingest.events GROUP BY tenant_id, session_id) s"))
    finally:
        await conn.close()


async def one_run(processes: int, load: Load, pg_url: str, redis_url: str, root: Path,
                  run: str, servers: dict[str, int]) -> dict[str, float]:
    db = await create_database(pg_url, f"pair_{run}")
    env = {"LIFELINE_DATABASE_URL": db, "LIFELINE_BUS_URL": redis_url,
           "LIFELINE_REDIS_URL": redis_url, "LIFELINE_LOG_LEVEL": "INFO"}
    procs = [ServiceProcess("lifeline_ingest", env, log_dir=root).start() for _ in range(processes)]
    try:
        pids = {f"ingest{i}": p.proc.pid for i, p in enumerate(procs)}
        meter = CpuMeter({**pids, **servers}).start()
        start = time.perf_counter()
        events = await load([p.url for p in procs])
        published = await wait_published(db, await count_rows(db))
        meter.stop()
        per = meter.per_event_us(events)
        ingest = sum(v for k, v in per.items() if k.startswith("ingest"))
        per = {"ingest": ingest, **{k: v for k, v in per.items() if not k.startswith("ingest")}}
        return {"events_per_s": events / (published - start), "gapless": float(await _gapless(db)),
                **per}
    finally:
        for p in procs:
            p.terminate()


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-pair-"))
    pg, valkey = start_postgres(root / "pg"), start_valkey(root / "valkey")
    servers = {k: v for k, v in (("postgres", server_pid(pg)), ("valkey", server_pid(valkey))) if v}
    try:
        for name, load in (("batches", batches), ("singles", singles)):
            results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
            for repeat in range(REPEATS):
                for n in (1, 2):
                    redis_url = valkey.url.rstrip("/") + f"/{repeat * 2 + n}"
                    results[n].append(await one_run(n, load, pg.url, redis_url, root,
                                                    f"{name}_{repeat}_{n}", servers))
            for n, runs in results.items():
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                gapless = all(r["gapless"] == 1.0 for r in runs)
                cpu = {k: v for k, v in med.items() if k not in ("events_per_s", "gapless")}
                print(f"  {name}, {n} ingest process{'es' if n > 1 else ''}: median of {len(runs)} "
                      f"{med['events_per_s']:,.0f} events/s accepted+published; seq gapless in "
                      f"every session: {'yes' if gapless else 'NO'}\n    {format_cpu(cpu)}",
                      flush=True)
                record("ingest pair", f"{name}, {n} process{'es' if n > 1 else ''}",
                       med["events_per_s"], cpu)
    finally:
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(f"bench_ingest_pair: python {sys.version.split()[0]}, scale {SCALE}, repeats {REPEATS}")
    asyncio.run(main())
