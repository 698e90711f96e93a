"""Assertions on the log and the bus shared by ingest's failure tests."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import httpx
import orjson

from lifeline_testing.processes import ServiceProcess, auth
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually


async def bus_ready(ingest: ServiceProcess) -> None:
    """Wait until the bus consumers of `ingest` are really running."""
    async def probe() -> bool:
        async with httpx.AsyncClient() as c:
            body = (await c.get(ingest.url + "/ready")).json()
        return bool(body["checks"]["bus"]["ok"])

    await eventually(probe, timeout=30, what="ingest's bus consumers running")


async def log_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT e.session_id, e.seq, e.turn_id, e.event_id, o.published_at "
            "FROM ingest.events e LEFT JOIN ingest.outbox o ON o.id = e.id "
            "ORDER BY e.session_id, e.seq")
    finally:
        await conn.close()


def assert_gapless(rows: list[asyncpg.Record]) -> dict[str, list[int]]:
    """Per session, seq is exactly 1..n and no turn id appears twice."""
    by_session: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_session[r["session_id"]].append(r)
    for session, items in by_session.items():
        assert [r["seq"] for r in items] == list(range(1, len(items) + 1)), f"gap in {session}"
        turns = [r["turn_id"] for r in items if r["turn_id"] is not None]
        assert len(turns) == len(set(turns)), f"turn logged twice in {session}"
    return {s: [r["turn_id"] for r in items] for s, items in by_session.items()}


async def all_published(database_url: str) -> bool:
    return all(r["published_at"] is not None for r in await log_rows(database_url))


async def assert_on_bus_in_order(bus_url: str, rows: list[asyncpg.Record]) -> None:
    """Every logged event is on the bus at least once; first sightings are in seq order."""
    records = await read_topic(bus_url, "lifeline.events.v1")
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[tuple[str, int]] = set()
    for rec in records:
        ev = orjson.loads(rec.value)
        key = (ev["session_id"], ev["seq"])
        assert rec.key == ev["session_id"]
        if key not in seen:
            seen.add(key)
            first_seen[ev["session_id"]].append(ev["seq"])
    missing = {(r["session_id"], r["seq"]) for r in rows} - seen
    assert not missing, f"{len(missing)} logged events never reached the bus, e.g. {sorted(missing)[:5]}"
    for session, seqs in first_seen.items():
        assert seqs == sorted(seqs), f"bus order broken for {session}"


async def post(client: httpx.AsyncClient, session: str, events: list[dict]) -> httpx.Response:
    return await client.post(f"/v1/sessions/{session}/events", json={"events": events}, headers=auth())
