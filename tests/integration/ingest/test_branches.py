"""Branches on ingest (issue 12, item 4): a session continuing another's log by reference."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from lifeline_servers import RunningServer
from lifeline_testing.builders import turn
from lifeline_testing.processes import ServiceProcess, auth

from .helpers import log_rows


@pytest.fixture(scope="module")
async def ingest(module_database: str, redis_server: RunningServer,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceProcess]:
    """One ingest for the module (each test uses its own session ids), Redis db 6 as its bus."""
    if redis_server.controllable and not redis_server.is_running():
        redis_server.restart()
    bus = urlunsplit(urlsplit(redis_server.url)._replace(path="/6"))
    client = aioredis.from_url(bus)
    await client.flushdb()
    await client.aclose()
    proc = ServiceProcess("lifeline_ingest", {
        "LIFELINE_DATABASE_URL": module_database, "LIFELINE_BUS_URL": bus, "LIFELINE_REDIS_URL": bus,
        "LIFELINE_SHUTDOWN_GRACE_S": "5"}, log_dir=tmp_path_factory.mktemp("ingest-branches"))
    yield proc.start()
    proc.kill()


async def _own_rows(database_url: str, *sessions: str) -> list[asyncpg.Record]:
    return [r for r in await log_rows(database_url) if r["session_id"] in sessions]


async def _log(c: httpx.AsyncClient, session: str, after_seq: int = 0, limit: int = 100) -> dict:
    r = await c.get(f"/v1/sessions/{session}/events", params={"after_seq": after_seq, "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()


async def test_branch_reads_parent_history_by_reference(ingest: ServiceProcess, module_database: str) -> None:
    """A branch's log is the parent's up to from_seq (re-scoped, not copied), then its own events."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/p/events", json={"events": [turn(i, f"t{i}", person_id="p-9")
                                                               for i in range(1, 6)]})
        r = await c.post("/v1/sessions/p/branches", json={"from_seq": 3, "name": "alt"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["session_id"], made["seq"], made["from_seq"]) == ("p.alt", 4, 3)
        assert (await c.post("/v1/sessions/p.alt/events", json={"events": [turn(4, "branch four")]})
                ).json()["results"][0]["seq"] == 5
        await c.post("/v1/sessions/p/events", json={"events": [turn(6, "parent six")]})

        parent, branch = await _log(c, "p"), await _log(c, "p.alt")
        assert [e["seq"] for e in parent["events"]] == [1, 2, 3, 4, 5, 6]
        assert [e["seq"] for e in branch["events"]] == [1, 2, 3, 4, 5]
        assert branch["last_seq"] == 5 and branch["next_after_seq"] == 5
        assert {e["session_id"] for e in branch["events"]} == {"p.alt"}
        assert [e["payload"].get("text") for e in branch["events"]] == ["t1", "t2", "t3", None, "branch four"]
        assert branch["events"][3]["event_type"] == "session.branched"
        assert branch["events"][3]["payload"] == {"parent_session_id": "p", "from_seq": 3, "name": "alt"}
        assert branch["events"][3]["person_id"] == "p-9"  # the branch belongs to the parent's person
        inherited = [e["event_id"] for e in branch["events"][:3]]
        assert not set(inherited) & {e["event_id"] for e in parent["events"]}
        assert inherited == [e["event_id"] for e in (await _log(c, "p.alt"))["events"][:3]]  # stable
        assert [e["seq"] for e in (await _log(c, "p.alt", after_seq=2, limit=2))["events"]] == [3, 4]

        wal = (await c.get("/v1/sessions/p.alt/wal")).json()
        assert [(e["seq"], e.get("inherited_from")) for e in wal["entries"]] == [
            (1, "p"), (2, "p"), (3, "p"), (4, None), (5, None)]
        assert [e["event_id"] for e in wal["entries"][:3]] == inherited

    rows = await _own_rows(module_database, "p.alt")  # by reference: the branch stores only its own rows
    assert [r["seq"] for r in rows] == [4, 5]


async def test_branch_of_a_branch_and_lineage(ingest: ServiceProcess, module_database: str) -> None:
    """A branch of a branch splices three logs; GET …/branches shows the lineage and the children."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/root/events", json={"events": [turn(i) for i in range(1, 5)]})
        await c.post("/v1/sessions/root/branches", json={"from_seq": 2, "name": "a"})  # root.a: 1,2 + 3
        await c.post("/v1/sessions/root.a/events", json={"events": [turn(3, "a3"), turn(4, "a4")]})  # 4, 5
        r = await c.post("/v1/sessions/root.a/branches",
                         json={"from_seq": 4, "name": "deeper", "session_id": "b2"})
        assert r.status_code == 201 and r.json()["seq"] == 5, r.text
        await c.post("/v1/sessions/b2/events", json={"events": [turn(5, "b5")]})
        log = (await _log(c, "b2"))["events"]
        assert [(e["seq"], e["event_type"], e["payload"].get("text")) for e in log] == [
            (1, "turn.recorded", "hello"), (2, "turn.recorded", "hello"), (3, "session.branched", None),
            (4, "turn.recorded", "a3"), (5, "session.branched", None), (6, "turn.recorded", "b5")]
        assert len({e["event_id"] for e in log}) == 6
        assert log[0]["event_id"] != (await _log(c, "root.a"))["events"][0]["event_id"]

        lineage = (await c.get("/v1/sessions/b2/branches")).json()
        assert [(x["session_id"], x["parent_session_id"], x["from_seq"]) for x in lineage["lineage"]] == [
            ("b2", "root.a", 4), ("root.a", "root", 2)]
        assert lineage["root_session_id"] == "root" and lineage["branches"] == []
        root = (await c.get("/v1/sessions/root/branches")).json()
        assert root["lineage"] == [] and root["branched_from"] is None
        assert [x["session_id"] for x in root["branches"]] == ["root.a"]
        children = (await c.get("/v1/sessions/root.a/branches")).json()["branches"]
        assert [x["name"] for x in children] == ["deeper"]


async def test_branch_refusals(ingest: ServiceProcess, module_database: str) -> None:
    """Beyond the parent's seq 422, an existing id 409, an unknown parent 404, a bad id 422;
    nothing is written by a refusal."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/r/events", json={"events": [turn(1), turn(2)]})
        await c.post("/v1/sessions/other/events", json={"events": [turn(1)]})
        beyond = await c.post("/v1/sessions/r/branches", json={"from_seq": 3, "name": "x"})
        assert beyond.status_code == 422 and beyond.json()["errors"][0]["field"] == "from_seq"
        assert beyond.headers["content-type"].startswith("application/problem+json")
        unknown = await c.post("/v1/sessions/nope/branches", json={"from_seq": 0, "name": "x"})
        assert unknown.status_code == 404
        taken = await c.post("/v1/sessions/r/branches",
                             json={"from_seq": 1, "name": "x", "session_id": "other"})
        assert taken.status_code == 409 and taken.json()["session_id"] == "other"
        bad = await c.post("/v1/sessions/r/branches", json={"from_seq": 1, "name": "has space"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
        negative = await c.post("/v1/sessions/r/branches", json={"from_seq": -1, "name": "x"})
        assert negative.status_code == 422
        ok = await c.post("/v1/sessions/r/branches", json={"from_seq": 2, "name": "x"})
        assert ok.status_code == 201
        again = await c.post("/v1/sessions/r/branches", json={"from_seq": 2, "name": "x"})
        assert again.status_code == 409
        forged = await c.post("/v1/sessions/q/events", json={
            "event_type": "session.branched", "payload": {"parent_session_id": "r", "from_seq": 1}})
        assert forged.status_code == 422
        other_tenant = await c.get("/v1/sessions/r.x/branches", headers=auth("test-other-tenant"))
        assert other_tenant.status_code == 404
    rows = await _own_rows(module_database, "r", "r.x", "other", "q")
    assert sorted({r["session_id"] for r in rows}) == ["other", "r", "r.x"]


async def test_interrupted_branch_is_finished_by_a_retry(ingest: ServiceProcess,
                                                         module_database: str) -> None:
    """A branch whose rows were written but whose session.branched was not is finished by the
    same request again (its event id is fixed), instead of being stuck behind a 409."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/u/events", json={"events": [turn(1), turn(2)]})
    conn = await asyncpg.connect(module_database)
    try:  # what a crash between the two steps leaves behind
        await conn.execute("INSERT INTO ingest.sessions (tenant_id, session_id, last_seq) "
                           "VALUES ('default', 'u.y', 1)")
        await conn.execute("INSERT INTO ingest.branches (tenant_id, session_id, parent_session_id, "
                           "from_seq, name) VALUES ('default', 'u.y', 'u', 1, 'y')")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        r = await c.post("/v1/sessions/u/branches", json={"from_seq": 1, "name": "y"})
        assert r.status_code == 201 and r.json()["seq"] == 2, r.text
        assert uuid.UUID(r.json()["event_id"]).version == 5
        types = [e["event_type"] for e in (await _log(c, "u.y"))["events"]]
        assert types == ["turn.recorded", "session.branched"]
