"""Edit locks on the embedded stack (issue 12, item 2): acquire/release latency and contention.

Against one ingest process on embedded PostgreSQL + Valkey:
  1. one holder, acquire → release in a loop on one session: p50/p99 of each call;
  2. 8 sessions, one holder each, looping at once: lock operations/s and p99 (the group
     committer batches room commands of different sessions like appends);
  3. 8 participants racing for `state` on one session (423 → retry): grants/s, refusals,
     acquire p99 of the winners;
  4. single-event appends to a session with a room and a held lock (every append checked)
     against a session without a room: p50/p99 of each.
Prints figures; asserts nothing. `BENCH_SCALE=0.2` shortens every load.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench.cpu import CpuMeter, format_cpu, record, server_pid
from lifeline_servers import start_postgres, start_valkey
from lifeline_testing.processes import ServiceProcess, auth

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _line(label: str, samples: list[float]) -> str:
    return (f"{label} p50 {_ms(samples, 0.5):.2f} ms · p99 {_ms(samples, 0.99):.2f} ms "
            f"({len(samples)} calls)")


class Room:
    """HTTP calls to one session's room, each timed."""

    def __init__(self, http: aiohttp.ClientSession, url: str, session: str) -> None:
        self.http, self.base = http, f"{url}/v1/sessions/{session}"

    async def call(self, method: str, path: str, **kwargs: object) -> tuple[int, dict, float]:
        started = time.perf_counter()
        async with self.http.request(method, self.base + path, **kwargs) as r:  # type: ignore[arg-type]
            body = await r.json(content_type=None)
            return r.status, body, time.perf_counter() - started

    async def join(self, pid: str, role: str) -> None:
        status, body, _ = await self.call("POST", "/participants", json={"participant_id": pid, "role": role})
        assert status == 200, body

    async def acquire(self, pid: str, scope: str = "state") -> tuple[int, dict, float]:
        return await self.call("POST", "/locks", json={"scope": scope, "participant_id": pid, "ttl_s": 60})

    async def release(self, pid: str, token: int, scope: str = "state") -> float:
        status, body, took = await self.call("DELETE", "/locks", params={
            "scope": scope, "participant_id": pid, "token": str(token)})
        assert status == 200, body
        return took


async def one_holder(http: aiohttp.ClientSession, url: str) -> int:
    room, n = Room(http, url, "solo"), int(500 * SCALE)
    await room.join("dm", "owner")
    acquires, releases = [], []
    for _ in range(n):
        status, body, took = await room.acquire("dm")
        assert status == 200, body
        acquires.append(took)
        releases.append(await room.release("dm", body["token"]))
    print(f"[1] one holder, {n} cycles: {_line('acquire', acquires)}; {_line('release', releases)}")
    return 2 * n


async def many_sessions(http: aiohttp.ClientSession, url: str) -> int:
    sessions, n = 8, int(200 * SCALE)
    timings: list[float] = []

    async def holder(i: int) -> None:
        room = Room(http, url, f"many-{i}")
        await room.join("dm", "owner")
        for _ in range(n):
            status, body, took = await room.acquire("dm")
            assert status == 200, body
            timings.extend([took, await room.release("dm", body["token"])])

    started = time.perf_counter()
    await asyncio.gather(*(holder(i) for i in range(sessions)))
    elapsed = time.perf_counter() - started
    print(f"[2] {sessions} sessions at once: {len(timings) / elapsed:,.0f} lock operations/s; "
          f"{_line('acquire+release', timings)}")
    return len(timings)


async def contended(http: aiohttp.ClientSession, url: str) -> int:
    room, players, rounds = Room(http, url, "race"), 8, int(40 * SCALE)
    await room.join("dm", "owner")
    for p in range(players):
        await room.join(f"p{p}", "editor")
    winners: list[float] = []
    refused = itertools.count()

    async def player(p: int) -> None:
        pid = f"p{p}"
        for _ in range(rounds):
            while True:
                status, body, took = await room.acquire(pid)
                if status == 200:
                    winners.append(took)
                    await room.release(pid, body["token"])
                    break
                assert status == 423, body
                next(refused)
                await asyncio.sleep(0.001)

    started = time.perf_counter()
    await asyncio.gather(*(player(p) for p in range(players)))
    elapsed = time.perf_counter() - started
    print(f"[3] {players} racing for one lock: {len(winners) / elapsed:,.0f} grants/s, "
          f"{next(refused)} refusals (423); {_line('granted acquire', winners)}")
    return 2 * len(winners)


async def append_checks(http: aiohttp.ClientSession, url: str) -> int:
    n = int(400 * SCALE)
    room = Room(http, url, "checked")
    await room.join("dm", "owner")
    await room.join("p1", "editor")
    status, body, _ = await room.acquire("p1", "fact:hp")
    assert status == 200, body
    results: dict[str, list[float]] = {}
    for session, writer in (("open", None), ("checked", "dm")):
        timings = results.setdefault(session, [])
        for t in range(1, n + 1):
            doc: dict[str, object] = {"events": [{
                "event_type": "turn.recorded", "turn_id": t, "person_id": "dm",
                "payload": {"role": "user", "text": f"turn {t}", "acts": [
                    {"op": "confirm_fact", "key": f"k{t % 7}", "value": t}]}}]}
            if writer:
                doc["participant_id"] = writer
            started = time.perf_counter()
            async with http.post(f"{url}/v1/sessions/{session}/events", json=doc) as r:
                assert r.status == 200, await r.text()
            timings.append(time.perf_counter() - started)
    print(f"[4] single-event appends: {_line('no room', results['open'])}; "
          f"{_line('room + lock held', results['checked'])}")
    return 2 * n


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-locks-"))
    pg = start_postgres(root / "pg")
    valkey = start_valkey(root / "valkey")
    try:
        conn = await asyncpg.connect(pg.url)
        await conn.execute("DROP DATABASE IF EXISTS bench_locks")
        await conn.execute("CREATE DATABASE bench_locks")
        await conn.close()
        db_url = pg.url.rsplit("/", 1)[0] + "/bench_locks"
        env = {"LIFELINE_DATABASE_URL": db_url, "LIFELINE_BUS_URL": valkey.url,
               "LIFELINE_REDIS_URL": valkey.url, "LIFELINE_LOG_LEVEL": "WARNING"}
        proc = ServiceProcess("lifeline_ingest", env, log_dir=root).start()
        try:
            async with aiohttp.ClientSession(headers=auth(), timeout=aiohttp.ClientTimeout(total=60)) as http:
                for name, load in (("one holder", one_holder), ("8 sessions", many_sessions),
                                   ("contended", contended), ("append checks", append_checks)):
                    pids = {"ingest": proc.proc.pid if proc.proc else None, "postgres": server_pid(pg),
                            "valkey": server_pid(valkey)}
                    meter = CpuMeter({k: v for k, v in pids.items() if v}).start()
                    started = time.perf_counter()
                    ops = await load(http, proc.url)
                    meter.stop()
                    per = meter.per_event_us(ops)
                    print(f"    {format_cpu(per).replace('event', 'operation')}")
                    record("locks", name, ops / (time.perf_counter() - started), per)
        finally:
            proc.terminate()
    finally:
        valkey.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(f"bench_locks: python {sys.version.split()[0]}, scale {SCALE}")
    asyncio.run(main())
