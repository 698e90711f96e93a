"""Outages on servers this test owns: bus down → reads answer, readiness names the bus;
PostgreSQL down → 503 problem+json and readiness names the database; both heal."""

from __future__ import annotations

import asyncio

from lifeline_testing.appends import append
from lifeline_testing.waiting import eventually

from .helpers import coach_session, get, start_memory


async def test_bus_and_database_outages(disposable_server, procs) -> None:
    """Profiles keep answering from PostgreSQL while the bus is away; without PostgreSQL the API
    answers 503 naming it; after both return the next session is consolidated as usual."""
    pg, bus = disposable_server("postgres"), disposable_server("redis")
    redis_url = bus.url.rstrip("/") + ("" if bus.url.rstrip("/").endswith("/0") else "/0")
    ingest = procs.ingest(pg.url, redis_url)
    memory = start_memory(procs, pg.url, redis_url, ingest)
    await append(ingest.url, "o-1", coach_session("p-o", 0, ["x", "x", "x"]))
    assert (await get(memory.url, "/v1/persons/p-o/profile", after_session="o-1")).status_code == 200

    await bus.akill()

    async def bus_named() -> bool:
        r = await get(memory.url, "/ready")
        return r.status_code == 503 and "bus" in r.json()["detail"]

    await eventually(bus_named, timeout=20, what="readiness naming the bus")
    assert (await get(memory.url, "/v1/persons/p-o/profile")).status_code == 200
    assert (await get(memory.url, "/v1/persons/p-o/bias")).status_code == 200
    await bus.arestart()

    await pg.akill()

    async def db_named() -> bool:
        r = await get(memory.url, "/ready")
        return r.status_code == 503 and "database" in r.json()["detail"]

    await eventually(db_named, timeout=20, what="readiness naming the database")
    down = await get(memory.url, "/v1/persons/p-o/profile")
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    await pg.arestart()

    async def ready() -> bool:
        return (await get(memory.url, "/ready")).status_code == 200

    await eventually(ready, timeout=60, what="memory ready again")

    # ingest's own recovery from a database restart is ingest's test; here a fresh ingest
    await asyncio.to_thread(ingest.restart)
    await append(ingest.url, "o-2", coach_session("p-o", 1, ["y", "y", "y"]))
    r = await get(memory.url, "/v1/persons/p-o/profile", after_session="o-2")
    assert r.status_code == 200 and r.json()["sessions_count"] == 2
