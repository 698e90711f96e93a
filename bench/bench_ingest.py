"""Ingest throughput and latency on the embedded stack (issue: backbone benchmark).

Loads, each against a fresh ingest on embedded PostgreSQL + Valkey:
  1. HTTP batches of 500 from 4 clients: events/s accepted, and accepted+published.
  2. Single-event requests from 32 concurrent clients: events/s (needs group commit).
  3. The topic path: records XADDed to lifeline.turns.v1 → logged → published.
  4. accept→published latency p50/p99 at a paced 2,000 events/s.
  5. load 1 again with the relay led by a second ingest process (the scale-out shape:
     front processes run with LIFELINE_RELAY_ENABLED=false).
Prints figures; asserts nothing. `BENCH_SCALE=0.2` shortens every load;
`BENCH_LOADS=singles,batches` runs only the loads named (default: all five).
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
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import redis.asyncio as aioredis

from bench.cpu import CpuMeter, format_cpu, record, server_pid
from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.processes import ServiceProcess, auth

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
LOADS = ("batches", "singles", "topic", "latency", "split")
CHOSEN = [n.strip() for n in os.environ.get("BENCH_LOADS", ",".join(LOADS)).split(",") if n.strip()]


def _session() -> aiohttp.ClientSession:
    """aiohttp, not httpx: the load generator must not be the bottleneck on 2 cores."""
    return aiohttp.ClientSession(headers={**auth(), "content-type": "application/json"},
                                 timeout=aiohttp.ClientTimeout(total=60))


def turn(t: int) -> dict:
    return {"event_type": "turn.recorded", "turn_id": t, "person_id": "p-1",
            "payload": {"role": "user", "text": f"turn number {t} about veneers and prices"}}


async def count_rows(db: str, published: bool = False) -> int:
    conn = await asyncpg.connect(db)
    try:
        query = ("SELECT count(*) FROM ingest.outbox WHERE published_at IS NOT NULL" if published
                 else "SELECT count(*) FROM ingest.events")
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def wait_published(db: str, total: int, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await count_rows(db, published=True) >= total:
            return time.perf_counter()
        await asyncio.sleep(0.02)
    raise RuntimeError(f"not all {total} events published in {timeout}s")


async def load_batches(url: str, db: str) -> int:
    clients, batch, per_client = 4, 500, int(40 * SCALE)

    async def client(h: aiohttp.ClientSession, c: int) -> None:
        for i in range(per_client):
            first = (c * per_client + i) * batch
            body = orjson.dumps({"events": [turn(t) for t in range(first, first + batch)]})
            async with h.post(f"{url}/v1/sessions/b-{c}-{i % 8}/events", data=body) as r:
                r.raise_for_status()

    total = clients * batch * per_client
    start = time.perf_counter()
    async with _session() as h:
        await asyncio.gather(*(client(h, c) for c in range(clients)))
    accepted = time.perf_counter()
    published = await wait_published(db, total)
    print(f"[1] HTTP batches of {batch} x {clients} clients: {total} events; "
          f"accepted {total / (accepted - start):,.0f} events/s; "
          f"accepted+published {total / (published - start):,.0f} events/s")
    return total


async def load_singles(url: str, db: str) -> int:
    clients, seconds = 32, 10 * SCALE
    counter = itertools.count(10_000_000)
    latencies: list[float] = []

    async def client(h: aiohttp.ClientSession, c: int) -> None:
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            body = orjson.dumps(turn(next(counter)))
            sent = time.perf_counter()
            async with h.post(f"{url}/v1/sessions/single-{c % 16}/events", data=body) as r:
                r.raise_for_status()
                await r.read()
            latencies.append(time.perf_counter() - sent)

    before = await count_rows(db)
    start = time.perf_counter()
    async with _session() as h:
        await asyncio.gather(*(client(h, c) for c in range(clients)))
    elapsed = time.perf_counter() - start
    done = len(latencies)
    published = await wait_published(db, before + done)
    latencies.sort()
    p99 = latencies[min(done - 1, int(0.99 * done))] * 1000
    print(f"[2] single-event requests, {clients} clients: {done} in {elapsed:.1f}s = "
          f"{done / elapsed:,.0f} events/s accepted (p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {p99:.1f} ms per request); accepted+published {done / (published - start):,.0f} events/s")
    return done


async def load_topic(redis_url: str, db: str) -> int:
    total = int(100_000 * SCALE)
    client = aioredis.from_url(redis_url)
    before = await count_rows(db)
    start = time.perf_counter()
    for chunk in range(0, total, 1000):
        async with client.pipeline(transaction=False) as pipe:
            for t in range(chunk, min(total, chunk + 1000)):
                pipe.xadd("lifeline.turns.v1", {"data": orjson.dumps(
                    {"session_id": f"topic-{t % 50}", **turn(t)})})
            await pipe.execute()
    produced = time.perf_counter()
    await client.aclose()
    published = await wait_published(db, before + total)
    print(f"[3] topic path: {total} records produced in {produced - start:.2f}s; "
          f"logged+published {total / (published - start):,.0f} events/s")
    return total


async def latency_at_rate(url: str, redis_url: str) -> None:
    rate, seconds, per_req = 2000, 10 * SCALE, 20
    client = aioredis.from_url(redis_url)
    last_id = "0-0"  # a fresh stream: every event on it is ours
    latencies: list[float] = []
    stop = asyncio.Event()

    async def reader() -> None:
        cursor = last_id
        while not stop.is_set():
            entries = await client.xread({"lifeline.events.v1": cursor}, block=200, count=1000)
            now = time.time()
            for _, items in entries:
                for entry_id, fields in items:
                    cursor = entry_id
                    ev = orjson.loads(fields[b"data"])
                    if ev["session_id"].startswith("lat-"):
                        recorded = datetime.fromisoformat(ev["recorded_at"]).timestamp()
                        latencies.append(now - recorded)

    task = asyncio.create_task(reader())
    counter = itertools.count(20_000_000)
    interval = per_req / rate
    async def post(h: aiohttp.ClientSession, session: str, body: bytes) -> None:
        async with h.post(f"{url}/v1/sessions/{session}/events", data=body) as r:
            r.raise_for_status()

    async with _session() as h:
        start = time.perf_counter()
        sent, pending = 0, set()
        while time.perf_counter() - start < seconds:
            body = orjson.dumps({"events": [turn(next(counter)) for _ in range(per_req)]})
            pending.add(asyncio.create_task(post(h, f"lat-{sent % 10}", body)))
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * interval - time.perf_counter()))
        await asyncio.gather(*pending)
    await asyncio.sleep(1.0)
    stop.set()
    await task
    await client.aclose()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"[4] accept→published at {rate} events/s ({len(latencies)} events): "
          f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms")


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    pg = start_postgres(root / "pg")
    valkey = start_valkey(root / "valkey")
    try:
        for name, load in (("batches", load_batches), ("singles", load_singles),
                           ("topic", None), ("latency", None), ("split", load_batches)):
            if name not in CHOSEN:
                continue
            conn = await asyncpg.connect(pg.url)
            db = f"bench_{name}"
            await conn.execute(f"DROP DATABASE IF EXISTS {db}")
            await conn.execute(f"CREATE DATABASE {db}")
            await conn.close()
            db_url = pg.url.rsplit("/", 1)[0] + f"/{db}"
            redis_url = valkey.url.rstrip("/") + f"/{LOADS.index(name)}"
            env = {"LIFELINE_DATABASE_URL": db_url, "LIFELINE_BUS_URL": redis_url,
                   "LIFELINE_REDIS_URL": redis_url, "LIFELINE_LOG_LEVEL": "WARNING"}
            relay = None
            if name == "split":
                print("[5] = [1] with the relay led by a second ingest process:")
                relay = ServiceProcess("lifeline_ingest", {**env, "LIFELINE_TURNS_CONSUMER_ENABLED": "false"},
                                       log_dir=root).start()
                env["LIFELINE_RELAY_ENABLED"] = "false"
            proc = ServiceProcess("lifeline_ingest", env, log_dir=root)
            proc.start()
            pids = {"ingest": proc.proc.pid, "postgres": server_pid(pg), "valkey": server_pid(valkey)}
            if relay is not None:
                pids["ingest-relay"] = relay.proc.pid
            meter = CpuMeter({k: v for k, v in pids.items() if v}).start()
            started = time.perf_counter()
            try:
                events = 0
                if name == "topic":
                    events = await load_topic(redis_url, db_url)
                elif name == "latency":
                    await latency_at_rate(proc.url, redis_url)
                else:
                    events = await load(proc.url, db_url)  # type: ignore[misc]
                if events:
                    meter.stop()
                    per = meter.per_event_us(events)
                    print(f"    {format_cpu(per)}")
                    record("ingest", name, events / (time.perf_counter() - started), per)
            finally:
                proc.terminate()
                if relay is not None:
                    relay.terminate()
    finally:
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)  # a run leaves ~1 GB of server data


if __name__ == "__main__":
    print(f"bench_ingest: python {sys.version.split()[0]}, scale {SCALE}, loads {','.join(CHOSEN)}")
    asyncio.run(main())
