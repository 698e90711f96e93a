"""The whole stack exactly as `make run` starts it, for bench_stack.

The launcher itself is run (`python -m lifeline_launcher`), with its own home in a
temporary directory and every service on a free port through its `--service` option, so
a developer's `make run` on the fixed ports is neither disturbed nor measured. INFO logs
go where the launcher sends them (one file per service). Drain is judged from the bus:
every consumer group on the watched streams has read everything and has nothing
pending, and the relay has published every logged event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from lifeline_bus import Bus, bus_kind, create_bus
from lifeline_launcher.services import SERVICES
from lifeline_servers import free_port

WATCHED = ("lifeline.events.v1", "lifeline.lifecycle.v1")
KAFKA_GROUPS = (
    *(("lifeline.events.v1", g) for g in ("replay", "snapshot", "tracestore", "memory", "governance")),
    ("lifeline.lifecycle.v1", "tracestore-lifecycle"),
)
"""Kafka keeps no list of a topic's groups that is cheap to ask: the stack's, by name."""


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    home: Path
    env: dict[str, str]

    @property
    def key(self) -> str:
        return self.env["LIFELINE_API_KEY"]

    def url(self, service: str) -> str:
        return self.env[f"LIFELINE_{service.upper()}_URL"]

    def stop(self) -> None:
        """SIGTERM the launcher (it stops services, then servers) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_stack(home: Path, bus: str = "redis", timeout: float = 180.0) -> RunningStack:
    """Run the launcher with every declared service on a free port; wait for stack.env."""
    home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "lifeline_launcher", "--home", str(home), "--bus", bus]
    for spec in SERVICES:
        argv += ["--service", f"{spec.name}={spec.module}:{free_port()}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("LIFELINE_REDIS_URL", "LIFELINE_DATABASE_URL", "LIFELINE_BUS_URL")}
    out = (home / "launcher.out").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    stack_env = home / "stack.env"
    deadline = time.monotonic() + timeout
    while not stack_env.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"launcher did not start: {(home / 'launcher.out').read_text()[-2000:]}")
        time.sleep(0.2)
    pairs = (line.split("=", 1) for line in stack_env.read_text().splitlines() if "=" in line)
    return RunningStack(process, home, dict(pairs))


async def groups_drained(client: aioredis.Redis) -> tuple[bool, int]:
    """(every group on the watched streams has lag 0 and nothing pending, total backlog)."""
    backlog, ok = 0, True
    for stream in WATCHED:
        try:
            groups = await client.xinfo_groups(stream)
        except aioredis.ResponseError:  # the stream does not exist yet
            continue
        for g in groups:
            lag = g.get("lag")
            pending = int(g.get("pending") or 0)
            backlog += pending + int(lag or 0)
            if lag is None or lag or pending:
                ok = False
    return ok, backlog


async def kafka_drained(bus: Bus) -> tuple[bool, int]:
    """(every consumer group of the stack has committed up to the end of its topic, backlog)."""
    backlog, ok = 0, True
    for topic, group in KAFKA_GROUPS:
        reading = await bus.lag(topic, group)
        if reading is None or reading.lag is None:
            ok = False
            continue
        backlog += reading.lag
        ok = ok and reading.lag == 0
    return ok, backlog


async def unpublished(conn: asyncpg.Connection) -> int:
    """1 while the outbox holds an unpublished event, else 0."""
    # EXISTS on the outbox's partial index: a count(*) here, polled every 50 ms, was a
        # third of PostgreSQL's CPU in the measured burst (pg_stat_statements)
    return int(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM ingest.outbox WHERE published_at IS NULL)"))


async def logged(db: str | asyncpg.Connection) -> int:
    """Events in the log. seq is gapless per session: the sum of last seqs is the log's
    size, read from one row per session instead of counting every event."""
    conn = await asyncpg.connect(db) if isinstance(db, str) else db
    try:
        return int(await conn.fetchval("SELECT coalesce(sum(last_seq), 0) FROM ingest.sessions"))
    finally:
        if isinstance(db, str):
            await conn.close()


async def wait_drained(stack: RunningStack, expected_logged: int, timeout: float = 600.0) -> float:
    """perf_counter() when the log holds `expected_logged` events, all published and consumed."""
    client = aioredis.from_url(stack.env["LIFELINE_REDIS_URL"])
    bus_url = stack.env.get("LIFELINE_BUS_URL", "")
    kafka = create_bus(bus_url, consumer="bench-lag") if bus_kind(bus_url) == "kafka" else None
    # one connection for the whole wait: a connect per poll forked a PostgreSQL backend
    # every 50 ms, CPU the meter then counted as the stack's
    db = await asyncpg.connect(stack.env["LIFELINE_DATABASE_URL"])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if await logged(db) >= expected_logged and await unpublished(db) == 0:
                ok, _ = await (kafka_drained(kafka) if kafka else groups_drained(client))
                if ok:
                    return time.perf_counter()
            await asyncio.sleep(0.05)
    finally:
        await db.close()
        await client.aclose()
        if kafka:
            await kafka.stop()
    raise RuntimeError(f"the stack did not drain in {timeout}s")
