"""The whole stack as `make run` starts it: a burst until every consumer group drains.

Loads, one launcher (bench/stack_harness.py: the real `lifeline_launcher`, INFO logs,
durable PostgreSQL, on free ports) per bus:
  1. burst: 100,000 events in HTTP batches of 100 across 200 sessions from 8 clients;
     timed from the first request until the log holds them all, the relay has published
     them and every consumer group on lifeline.events.v1 and lifeline.lifecycle.v1 has
     no lag and nothing pending;
  2. single-event requests from 32 clients for 10 s (p50/p99 per request), then drain;
  3. the topic path: 100,000 records XADDed to lifeline.turns.v1, then drain;
  4. recovery: sessions of 100, 10,000 and 100,000 events (bench_replay's shapes), then
     GET state 1,000 times each on the idle stack: p50/p99 per length.
Loads 1-3 print events/s and CPU µs per event for every service, PostgreSQL and Valkey
(bench/cpu.py). `BENCH_STACK_LOADS=burst,recovery` runs a subset. Prints figures;
asserts nothing. `BENCH_SCALE=0.2` shortens every load,
`BENCH_REPEATS` (default 1) repeats the whole run, `BENCH_BUS=redis,kafka` (the default:
both, one after the other; on Kafka the topic path produces through the bus adapter and
the drain is read from each group's committed offsets).
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
from pathlib import Path

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.bench_replay import LENGTHS, pct, state_latency, wait_applied, write_session
from bench.cpu import CpuMeter, calibration_us, find_pids, format_cpu, record
from bench.stack_harness import RunningStack, logged, start_stack, wait_drained
from lifeline_bus import OutMessage, bus_kind, create_bus

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SESSIONS = 200
_turns = itertools.count(1)


def turn(session: int, t: int) -> dict[str, object]:
    return {"event_type": "turn.recorded", "turn_id": t, "person_id": f"p-{session % 50}",
            "payload": {"role": "user" if t % 2 else "assistant",
                        "text": f"turn number {t} about veneers, implants and prices"}}


def _client(stack: RunningStack) -> aiohttp.ClientSession:
    """aiohttp, not httpx: the load generator must not be the bottleneck on 2 cores."""
    return aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {stack.key}", "content-type": "application/json"},
        timeout=aiohttp.ClientTimeout(total=120), connector=aiohttp.TCPConnector(limit=64))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


async def burst(stack: RunningStack, run: str) -> dict[str, float]:
    total, clients = int(100_000 * SCALE), 8
    batch = max(1, min(100, total // SESSIONS))  # every session gets events at any scale
    url = stack.url("ingest")
    requests = [(s, [turn(s, next(_turns)) for _ in range(batch)])
                for _ in range(max(1, total // (batch * SESSIONS))) for s in range(SESSIONS)]
    queue = iter(requests)
    latencies: list[float] = []

    async def client(h: aiohttp.ClientSession) -> None:
        for s, events in queue:
            body = orjson.dumps({"events": events})
            t0 = time.perf_counter()
            async with h.post(f"{url}/v1/sessions/{run}-s{s}/events", data=body) as r:
                r.raise_for_status()
            latencies.append(time.perf_counter() - t0)

    sent = len(requests) * batch
    return await _measure(stack, f"HTTP batches of {batch}, {SESSIONS} sessions, {clients} clients",
                          sent, latencies, lambda h: [client(h) for _ in range(clients)])


async def singles(stack: RunningStack, run: str) -> dict[str, float]:
    clients, seconds = 32, max(3.0, 10 * SCALE)
    url = stack.url("ingest")
    latencies: list[float] = []

    async def client(h: aiohttp.ClientSession, c: int) -> None:
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            body = orjson.dumps(turn(c, next(_turns)))
            t0 = time.perf_counter()
            async with h.post(f"{url}/v1/sessions/{run}-one-{c}/events", data=body) as r:
                r.raise_for_status()
            latencies.append(time.perf_counter() - t0)

    return await _measure(stack, f"single-event requests, {clients} clients", None, latencies,
                          lambda h: [client(h, c) for c in range(clients)])


def _record(run: str, i: int) -> bytes:
    s = i % SESSIONS
    return orjson.dumps({"session_id": f"{run}-t{s}", **turn(s, next(_turns))})


async def topic(stack: RunningStack, run: str) -> dict[str, float]:
    total = int(100_000 * SCALE)
    bus_url = stack.env.get("LIFELINE_BUS_URL", "")
    if bus_kind(bus_url) == "kafka":
        return await _measure(stack, "topic path (produce to lifeline.turns.v1 on Kafka)", total, [],
                              lambda h: [_produce_kafka(bus_url, run, total)])

    async def produce(_: aiohttp.ClientSession) -> None:
        r = aioredis.from_url(stack.env["LIFELINE_REDIS_URL"])
        for chunk in range(0, total, 1000):
            async with r.pipeline(transaction=False) as pipe:
                for i in range(chunk, min(total, chunk + 1000)):
                    pipe.xadd("lifeline.turns.v1", {"data": _record(run, i)})
                await pipe.execute()
        await r.aclose()

    return await _measure(stack, "topic path (XADD lifeline.turns.v1)", total, [],
                          lambda h: [produce(h)])


async def _produce_kafka(bus_url: str, run: str, total: int) -> None:
    """Through the bus adapter's producer (idempotent, keyed by session), 1,000 at a time."""
    bus = create_bus(bus_url, consumer="bench-producer")
    await bus.start()
    try:
        for chunk in range(0, total, 1000):
            await bus.publish("lifeline.turns.v1", [
                OutMessage(f"{run}-t{i % SESSIONS}", _record(run, i))
                for i in range(chunk, min(total, chunk + 1000))])
    finally:
        await bus.stop()


async def recovery(stack: RunningStack, run: str) -> dict[str, float]:
    """GET state p50/p99 by session length, as a reconnecting client meets it under `make run`."""
    out: dict[str, float] = {}
    async with _client(stack) as h:
        for n in LENGTHS:
            await write_session(h, stack.url("ingest"), f"{run}-len-{n}", n)
            await wait_applied(h, stack.url("replay"), f"{run}-len-{n}", n)
        await wait_drained(stack, await logged(stack.env["LIFELINE_DATABASE_URL"]))
        for n in LENGTHS:
            lat = await state_latency(h, stack.url("replay"), f"{run}-len-{n}")
            out[f"p50_{n}"], out[f"p99_{n}"] = statistics.median(lat), pct(lat, 0.99)
            print(f"  recovery: GET state, session of {n:,} events: p50 {out[f'p50_{n}']:.2f} ms, "
                  f"p99 {out[f'p99_{n}']:.2f} ms", flush=True)
    return out


LOADS = {"burst": burst, "singles": singles, "topic": topic, "recovery": recovery}


async def _measure(stack: RunningStack, path: str, sent: int | None, latencies: list[float],
                   loads: object) -> dict[str, float]:
    db = stack.env["LIFELINE_DATABASE_URL"]
    before = await logged(db)
    calibrated = calibration_us()  # the machine's speed, on the idle stack (bench/cpu.py)
    meter = CpuMeter(find_pids(stack.process.pid)).start()
    start = time.perf_counter()
    async with _client(stack) as h:
        await asyncio.gather(*loads(h))  # type: ignore[operator]
    accepted = time.perf_counter()
    events = sent if sent is not None else len(latencies)
    drained = await wait_drained(stack, before + events)
    meter.stop()
    calibrated = (calibrated + calibration_us()) / 2
    per = meter.per_event_us(events)
    rate = events / (drained - start)
    lat = (f"; request p50 {_pct(latencies, 0.5):.1f} ms p99 {_pct(latencies, 0.99):.1f} ms"
           if latencies else "")
    print(f"  {path}: {events} events, accepted {events / (accepted - start):,.0f}/s, "
          f"drained {rate:,.0f} events/s{lat}\n    {format_cpu(per)}\n    {_calibrated(per, calibrated)}",
          flush=True)
    return {"events_per_s": rate, "p50_ms": _pct(latencies, 0.5), "p99_ms": _pct(latencies, 0.99),
            "calibration_us": calibrated, **{f"cpu_{k}": v for k, v in per.items()}}


def _calibrated(per: dict[str, float], calibration: float) -> str:
    """The total in calibration turns (bench/cpu.py: survives a machine whose speed drifts)."""
    return (f"machine: {calibration:.1f} CPU µs per calibration turn; total = "
            f"{per['total'] / calibration:.1f} calibration turns/event")


async def run_once(bus: str, repeat: int) -> list[tuple[str, dict[str, float]]]:
    home = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    stack = start_stack(home, bus)
    try:
        out = []
        for name in os.environ.get("BENCH_STACK_LOADS", ",".join(LOADS)).split(","):
            out.append((name, await LOADS[name.strip()](stack, f"r{repeat}")))
        return out
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    for bus in os.environ.get("BENCH_BUS", "redis,kafka").split(","):
        run_bus(bus.strip())


def run_bus(bus: str) -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "1"))
    print(f"bench_stack: python {sys.version.split()[0]}, scale {SCALE}, bus {bus}, repeats {repeats}")
    results: dict[str, list[dict[str, float]]] = {}
    for repeat in range(repeats):
        print(f"run {repeat + 1}/{repeats}", flush=True)
        for name, figures in asyncio.run(run_once(bus, repeat)):
            results.setdefault(name, []).append(figures)
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        if name == "recovery":
            print(f"median of {len(runs)} — stack recovery, GET state: " + ", ".join(
                f"{n:,} events p50 {med[f'p50_{n}']:.2f} ms p99 {med[f'p99_{n}']:.2f} ms" for n in LENGTHS))
            continue
        cpu = {k.removeprefix("cpu_"): v for k, v in med.items() if k.startswith("cpu_")}
        turns = statistics.median(r["cpu_total"] / r["calibration_us"] for r in runs)
        print(f"median of {len(runs)} — stack {name}: {med['events_per_s']:,.0f} events/s, "
              f"p50 {med['p50_ms']:.1f} ms p99 {med['p99_ms']:.1f} ms\n    {format_cpu(cpu)}\n"
              f"    total = {turns:.1f} calibration turns/event "
              f"(machine: {med['calibration_us']:.1f} µs per turn)")
        record("stack", f"{bus} {name}", med["events_per_s"], cpu,
               {"p50_ms": med["p50_ms"], "p99_ms": med["p99_ms"], "calibration_turns": turns})


if __name__ == "__main__":
    main()
