"""Append throughput with 10 concurrent writers on ONE session, by conflict strategy (issue 12).

Each writer appends single-event turns, each confirming its own fact key, with the
`expected_seq` it last saw (the seq of its previous answer):
  - `no expected_seq`: the plain append, for reference;
  - `reject`: a 409 tells the current seq; the writer retries with it (the classic
    optimistic-concurrency loop: most requests lose the race and go round again);
  - `automatic_merge`: a stale batch touching no key changed since is appended as is,
    at the cost of reading the events it missed.
Prints events/s, requests per accepted event, and CPU µs per event (bench/cpu.py);
asserts nothing. `BENCH_SCALE=0.2` shortens every load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.cpu import CpuMeter, format_cpu, record, server_pid
from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.processes import ServiceProcess, auth

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
WRITERS = 10
MODES = ("no expected_seq", "reject", "automatic_merge")


def _turn(turn_id: int, writer: int) -> dict[str, Any]:
    return {"event_type": "turn.recorded", "turn_id": turn_id, "person_id": f"p-{writer}",
            "payload": {"role": "assistant", "text": f"writer {writer} turn {turn_id}",
                        "acts": [{"op": "confirm_fact", "key": f"w{writer}", "value": turn_id}]}}


async def _writer(h: aiohttp.ClientSession, url: str, mode: str, writer: int, n: int) -> int:
    """Append `n` turns; return the requests it took."""
    seen, requests = 0, 0
    for i in range(n):
        body: dict[str, Any] = {"events": [_turn(writer * 1_000_000 + i, writer)]}
        while True:
            if mode != "no expected_seq":
                body |= {"expected_seq": seen, "on_conflict": mode}
            requests += 1
            async with h.post(f"{url}/v1/sessions/bench-conflicts/events", data=orjson.dumps(body)) as r:
                answer = await r.json(content_type=None)
                if r.status == 200:
                    seen = answer["results"][0]["seq"]
                    break
                if r.status != 409 or "current_seq" not in answer:
                    raise RuntimeError(f"{mode}: {r.status} {answer}")
                seen = answer["current_seq"]
    return requests


async def _load(url: str, mode: str) -> tuple[int, int]:
    per_writer = max(1, int(300 * SCALE))
    async with aiohttp.ClientSession(headers={**auth(), "content-type": "application/json"},
                                     timeout=aiohttp.ClientTimeout(total=120)) as h:
        requests = await asyncio.gather(*(_writer(h, url, mode, w, per_writer) for w in range(WRITERS)))
    return WRITERS * per_writer, sum(requests)


async def _database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-conflicts-"))
    pg = start_postgres(root / "pg")
    valkey = start_valkey(root / "valkey")
    try:
        for i, mode in enumerate(MODES):
            db_url = await _database(pg.url, f"bench_conflicts_{i}")
            redis_url = valkey.url.rstrip("/") + f"/{i}"
            proc = ServiceProcess("lifeline_ingest", {
                "LIFELINE_DATABASE_URL": db_url, "LIFELINE_BUS_URL": redis_url,
                "LIFELINE_REDIS_URL": redis_url, "LIFELINE_LOG_LEVEL": "WARNING"}, log_dir=root).start()
            pids = {"ingest": proc.proc.pid if proc.proc else None, "postgres": server_pid(pg)}
            meter = CpuMeter({k: v for k, v in pids.items() if v}).start()
            started = time.perf_counter()
            try:
                events, requests = await _load(proc.url, mode)
                elapsed = time.perf_counter() - started
                meter.stop()
                per = meter.per_event_us(events)
                print(f"[{mode}] {WRITERS} writers, one session: {events / elapsed:,.0f} events/s, "
                      f"{requests / events:.2f} requests per accepted event\n    {format_cpu(per)}")
                record("conflicts", mode, events / elapsed, per)
            finally:
                proc.terminate()
    finally:
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(f"bench_conflicts: python {sys.version.split()[0]}, scale {SCALE}")
    asyncio.run(main())
