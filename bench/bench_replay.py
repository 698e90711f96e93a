"""replay: recovery latency by session length, RECOVERY_SYNC, full fold, accept→WebSocket.

On the embedded stack (PostgreSQL + Valkey, Redis bus), ingest and replay as processes,
snapshots every 100 events, load generator on the same 2 cores (run order: 5, then 1–4):
  1. sessions of 100, 10,000 and 100,000 events, written in HTTP batches of 1,000;
     replay's projection throughput while it catches up;
  2. GET state p50/p99 per length, and the 10k/100 and 100k/100 ratios;
  3. RECOVERY_SYNC p50/p99, from the start of the WebSocket connect to the message;
  4. a full replay (fold) of 10,000 events without a snapshot (POST /replay);
  5. accept→delivered-on-WebSocket p50/p99 at 1,000 events/s (10 sessions, one socket each).
Prints figures; asserts nothing. `BENCH_SCALE=0.1` shrinks the long sessions and loads.
"""

from __future__ import annotations

import asyncio
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
from websockets.asyncio.client import connect

from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.processes import auth
from lifeline_testing.replay_stack import start_stack

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
LENGTHS = sorted({100, max(1000, int(10_000 * SCALE)), max(2000, int(100_000 * SCALE))})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p99 {pct(values, 0.99):.2f} ms"


def turn(t: int) -> dict:
    acts = [{"op": "confirm_fact", "key": f"fact{t % 40}", "value": t}] if t % 4 == 0 else []
    if t % 25 == 0:
        acts.append({"op": "pin", "id": f"pin{t % 7}", "text": f"remember detail {t}"})
    return {"event_type": "turn.recorded", "turn_id": t, "person_id": "p-1",
            "payload": {"role": "user" if t % 2 else "assistant", "intent": "service_inquiry",
                        "text": f"Turn {t}: a question about veneers, prices and the next visit.",
                        "acts": acts}}


async def write_session(h: aiohttp.ClientSession, ingest: str, session: str, n: int) -> float:
    start = time.perf_counter()
    for first in range(1, n + 1, 1000):
        body = orjson.dumps({"events": [turn(t) for t in range(first, min(n, first + 999) + 1)]})
        async with h.post(f"{ingest}/v1/sessions/{session}/events", data=body) as r:
            r.raise_for_status()
    return time.perf_counter() - start


async def wait_applied(h: aiohttp.ClientSession, replay: str, session: str, n: int,
                       timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with h.get(f"{replay}/v1/sessions/{session}/checkpoint") as r:
            if (await r.json())["last_seq"] >= n:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"replay did not apply {n} events of {session} in {timeout}s")


async def build(h: aiohttp.ClientSession, ingest: str, replay: str) -> None:
    for n in LENGTHS:
        start = time.perf_counter()
        wrote = await write_session(h, ingest, f"len-{n}", n)
        await wait_applied(h, replay, f"len-{n}", n)
        total = time.perf_counter() - start
        print(f"[1] session of {n:,} events: written in {wrote:.1f}s ({n / wrote:,.0f}/s), "
              f"applied by replay after {total:.1f}s ({n / total:,.0f} events/s end to end)")


async def state_latency(h: aiohttp.ClientSession, replay: str, session: str, runs: int = 1000) -> list[float]:
    url = f"{replay}/v1/sessions/{session}/state"
    out = []
    for i in range(runs + 50):
        start = time.perf_counter()
        async with h.get(url) as r:
            body = await r.read()
        if i >= 50:
            out.append((time.perf_counter() - start) * 1000)
        assert r.status == 200 and b'"mode":"replay"' in body, body[:200]
    return out


async def recovery(h: aiohttp.ClientSession, replay: str) -> None:
    p50s, p99s = {}, {}
    for n in LENGTHS:
        lat = await state_latency(h, replay, f"len-{n}")
        p50s[n], p99s[n] = statistics.median(lat), pct(lat, 0.99)
        print(f"[2] GET state, session of {n:,} events: {fmt(lat)}")
    base = LENGTHS[0]
    for n in LENGTHS[1:]:
        print(f"[2] ratio {n:,}/{base}: p50 {p50s[n] / p50s[base]:.2f}x, p99 {p99s[n] / p99s[base]:.2f}x")


async def sync_latency(replay: str, runs: int = 300) -> None:
    url = replay.replace("http://", "ws://") + f"/v1/sessions/len-{LENGTHS[1]}/ws"
    out = []
    for i in range(runs + 20):
        start = time.perf_counter()
        async with connect(url, additional_headers=auth()) as ws:
            message = await ws.recv()
            took = (time.perf_counter() - start) * 1000
        assert b"RECOVERY_SYNC" in (message if isinstance(message, bytes) else message.encode())
        if i >= 20:
            out.append(took)
    print(f"[3] RECOVERY_SYNC from WebSocket connect ({runs} connects): {fmt(out)}")


async def full_fold(h: aiohttp.ClientSession, replay: str) -> None:
    n = LENGTHS[1]
    url = f"{replay}/v1/sessions/len-{n}/replay"
    for label, body in (("without a snapshot", {"until_seq": n, "use_snapshots": False}),
                        ("from the nearest snapshot", {"until_seq": n - 50})):
        client, server = [], []
        for _ in range(3):
            start = time.perf_counter()
            async with h.post(url, json=body) as r:
                doc = await r.json()
            client.append((time.perf_counter() - start) * 1000)
            server.append(doc["elapsed_ms"])
        print(f"[4] replay to seq {body['until_seq']:,} {label}: {doc['events_folded']:,} events folded, "
              f"median {statistics.median(client):.0f} ms (server {statistics.median(server):.0f} ms)")


async def accept_to_ws(h: aiohttp.ClientSession, ingest: str, replay: str) -> None:
    """1,000 events/s over 10 sessions (requests of 10 events), one WebSocket per session;
    latency from ingest's `recorded_at` (its commit) to the event arriving on the socket."""
    rate, seconds, per_req, sessions = 1000, 5 * max(SCALE, 0.4), 10, 10
    latencies: list[float] = []
    sockets = []
    for k in range(sessions):
        await write_session(h, ingest, f"live-{k}", 1)
        url = replay.replace("http://", "ws://") + f"/v1/sessions/live-{k}/ws"
        sockets.append(await connect(url, additional_headers=auth(), max_queue=None))
        await sockets[-1].recv()

    async def reader(ws, total: int) -> None:
        for _ in range(total):
            message = orjson.loads(await ws.recv())
            accepted = datetime.fromisoformat(message["event"]["recorded_at"]).timestamp()
            latencies.append((time.time() - accepted) * 1000)

    rounds = int(rate * seconds) // (per_req * sessions)
    readers = asyncio.gather(*(reader(ws, rounds * per_req) for ws in sockets))
    start, pending = time.perf_counter(), set()
    for i in range(rounds * sessions):
        first = 2 + (i // sessions) * per_req
        body = orjson.dumps({"events": [turn(t) for t in range(first, first + per_req)]})
        url = f"{ingest}/v1/sessions/live-{i % sessions}/events"
        pending.add(asyncio.create_task(h.post(url, data=body)))
        await asyncio.sleep(max(0.0, start + (i + 1) * per_req / rate - time.perf_counter()))
    for response in await asyncio.gather(*pending):
        response.raise_for_status()
    await asyncio.wait_for(readers, 60)
    for ws in sockets:
        await ws.close()
    print(f"[5] accept→delivered on WebSocket at {rate} events/s over {sessions} sessions "
          f"({len(latencies)} events): {fmt(latencies)}, max {max(latencies):.1f} ms")


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    pg, valkey = start_postgres(root / "pg"), start_valkey(root / "valkey")
    stack = None
    try:
        conn = await asyncpg.connect(pg.url)
        await conn.execute("CREATE DATABASE bench_replay")
        await conn.close()
        db, redis_url = pg.url.rsplit("/", 1)[0] + "/bench_replay", valkey.url.rstrip("/") + "/0"
        quiet = {"log_level": "WARNING"}
        stack = start_stack(db, redis_url, redis_url, log_dir=root, ingest_env=quiet,
                            replay_env={**quiet, "snapshot_every": "100"})
        async with aiohttp.ClientSession(headers={**auth(), "content-type": "application/json"},
                                         timeout=aiohttp.ClientTimeout(total=120)) as h:
            # live latency first, before the bulk load leaves PostgreSQL checkpointing and vacuuming
            await accept_to_ws(h, stack.ingest.url, stack.replay.url)
            await build(h, stack.ingest.url, stack.replay.url)
            await recovery(h, stack.replay.url)
            await sync_latency(stack.replay.url)
            await full_fold(h, stack.replay.url)
    finally:
        if stack is not None:
            stack.kill()
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(f"bench_replay: python {sys.version.split()[0]}, scale {SCALE}, lengths {LENGTHS}")
    asyncio.run(main())
