"""Participants and edit locks on real ingest processes, PostgreSQL and Redis (issue 12).

One pair of ingest processes on one database serves the module (starting processes is
most of the cost); each test uses its own sessions, and the SIGKILL test comes last.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from lifeline_events import Event, fold
from lifeline_servers import RunningServer
from lifeline_testing.builders import turn
from lifeline_testing.processes import TEST_API_KEY, TEST_KEYS, ServiceProcess, auth
from lifeline_testing.waiting import eventually

WRITER_KEY = "test-room-writer"
KEYS = json.dumps({**TEST_KEYS, WRITER_KEY: {"tenant": "default", "scopes": ["ingest", "read"]}})
"""A key without `admin`: an admin key acts as every room's owner."""


Pair = tuple[ServiceProcess, ServiceProcess]


@pytest.fixture(scope="module")
async def pair(module_database: str, redis_server: RunningServer,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    """Two ingest processes on one database (rooms of at most 5, leases of at most 60 s)."""
    bus = urlunsplit(urlsplit(redis_server.url)._replace(path="/6"))
    env = {"LIFELINE_DATABASE_URL": module_database, "LIFELINE_BUS_URL": bus, "LIFELINE_REDIS_URL": bus,
           "LIFELINE_SHUTDOWN_GRACE_S": "5", "LIFELINE_API_KEYS": KEYS,
           "LIFELINE_MAX_PARTICIPANTS": "5", "LIFELINE_LOCK_TIMEOUT_S": "60"}
    log_dir = tmp_path_factory.mktemp("room")
    a, b = (ServiceProcess("lifeline_ingest", env, log_dir=log_dir) for _ in range(2))
    await asyncio.to_thread(a.start)  # first alone: it applies the migrations
    await asyncio.to_thread(b.start)
    yield a, b
    a.kill()
    b.kill()


def _client(ingest: ServiceProcess, key: str = WRITER_KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=ingest.url, headers=auth(key), timeout=30)


async def join(c: httpx.AsyncClient, session: str, pid: str, role: str, **extra: Any) -> httpx.Response:
    return await c.post(f"/v1/sessions/{session}/participants",
                        json={"participant_id": pid, "role": role, **extra})


async def acquire(c: httpx.AsyncClient, session: str, pid: str, scope: str = "state",
                  ttl_s: float | None = None) -> httpx.Response:
    body: dict[str, Any] = {"scope": scope, "participant_id": pid}
    if ttl_s is not None:
        body["ttl_s"] = ttl_s
    return await c.post(f"/v1/sessions/{session}/locks", json=body)


async def release(c: httpx.AsyncClient, session: str, pid: str, token: int,
                  scope: str = "state") -> httpx.Response:
    return await c.delete(f"/v1/sessions/{session}/locks",
                          params={"scope": scope, "participant_id": pid, "token": token})


async def write(c: httpx.AsyncClient, session: str, turn_id: int, writer: str, *acts: dict[str, Any],
                token: int | None = None) -> httpx.Response:
    body: dict[str, Any] = {"events": [turn(turn_id, acts=list(acts))], "participant_id": writer}
    if token is not None:
        body["lock_token"] = token
    return await c.post(f"/v1/sessions/{session}/events", json=body)


def fact(key: str, value: object = 1) -> dict[str, Any]:
    return {"op": "confirm_fact", "key": key, "value": value}


async def logged(c: httpx.AsyncClient, session: str) -> list[Event]:
    r = await c.get(f"/v1/sessions/{session}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return [Event.from_json(e) for e in r.json()["events"]]


def acquisitions(events: list[Event]) -> list[tuple[int, str]]:
    """(token, holder) of every new lease (renewals excluded), in log order."""
    return [(e.payload.token, e.payload.participant_id) for e in events  # type: ignore[attr-defined]
            if e.event_type == "lock.acquired" and not e.payload.renewed]  # type: ignore[attr-defined]


async def test_participants(pair: Pair) -> None:
    """Joins and leaves are events; GET lists the room; a viewer's and a stranger's append are 403
    naming why; the sixth participant of a room of five is a 409 naming the limit."""
    ingest = pair[0]
    async with _client(ingest) as c:
        r = await join(c, "room1", "p1", "editor")
        assert r.status_code == 409 and r.json()["field"] == "role", r.text
        assert (await join(c, "room1", "dm", "owner")).status_code == 200
        assert (await join(c, "room1", "p1", "editor")).status_code == 200
        assert (await join(c, "room1", "p0", "editor")).status_code == 200
        assert (await join(c, "room1", "p9", "editor")).status_code == 200
        r = await join(c, "room1", "v1", "viewer")
        assert r.status_code == 200 and [p["participant_id"] for p in r.json()["participants"]] == [
            "dm", "p0", "p1", "p9", "v1"]
        r = await join(c, "room1", "p2", "editor")
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["limit"] == 5 and "LIFELINE_MAX_PARTICIPANTS" in r.json()["detail"]
        r = await write(c, "room1", 1, "v1")
        assert r.status_code == 403 and "viewer" in r.json()["detail"] and r.json()["participant_id"] == "v1"
        r = await c.post("/v1/sessions/room1/events", json={"events": [turn(1, person_id="stranger")]})
        assert r.status_code == 403 and "not a participant" in r.json()["detail"]
        assert (await write(c, "room1", 1, "p1")).status_code == 200
        r = await c.delete("/v1/sessions/room1/participants/v1", params={"actor": "p1"})
        assert r.status_code == 403 and "owner" in r.json()["title"]
        async with _client(ingest, TEST_API_KEY) as admin:  # an admin key acts as an owner
            r = await admin.delete("/v1/sessions/room1/participants/v1", params={"actor": "p1"})
        assert r.status_code == 200 and r.json()["left"] is True
        assert (await join(c, "room1", "p2", "editor")).status_code == 200
        r = await c.get("/v1/sessions/room1/participants")
        assert {p["participant_id"]: p["role"] for p in r.json()["participants"]} == {
            "dm": "owner", "p0": "editor", "p1": "editor", "p2": "editor", "p9": "editor"}
        assert (await c.get("/v1/sessions/nowhere/participants")).status_code == 404
        room = fold(await logged(c, "room1")).room
        assert room is not None and set(room.participants) == {"dm", "p0", "p1", "p2", "p9"}


async def test_lock_lifecycle(pair: Pair) -> None:
    """Acquire, renew (same token), release; another's act on a held scope is a 423 naming scope and
    holder; after expiry the scope is taken over with a greater token and the old holder's late
    write with its old token is refused; tokens strictly increase."""
    s = "locks1"
    async with _client(pair[1]) as c:
        for pid, role in (("dm", "owner"), ("p1", "editor"), ("p2", "editor"), ("v", "viewer")):
            assert (await join(c, s, pid, role)).status_code == 200
        assert (await acquire(c, s, "v")).status_code == 403
        r = await acquire(c, s, "p1", "fact:hp", ttl_s=61)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ttl_s"
        first = (await acquire(c, s, "p1", "fact:hp")).json()
        assert first["token"] == 1 and first["participant_id"] == "p1" and first["live"]
        r = await write(c, s, 1, "p2", fact("mood"), fact("hp"))
        assert r.status_code == 423, r.text
        body = r.json()
        assert (body["scope"], body["holder"], body["field"]) == ("fact:hp", "p1", "events.0.payload.acts.1")
        assert (await acquire(c, s, "dm", "state")).status_code == 423
        assert (await write(c, s, 1, "p2", fact("mood"))).status_code == 200
        assert (await write(c, s, 2, "p1", fact("hp"), token=1)).status_code == 200
        r = await c.post(f"/v1/sessions/{s}/locks/renew",
                         json={"scope": "fact:hp", "participant_id": "p1", "token": 1, "ttl_s": 0.3})
        assert r.status_code == 200 and r.json()["token"] == 1
        # the short lease runs out; p2 takes over with a greater token
        taken = await eventually(lambda: _granted(c, s, "p2", "fact:hp"), what="p2 taking over fact:hp")
        assert taken["token"] == 2
        r = await write(c, s, 3, "p1", fact("hp"), token=1)  # the expired holder's late write
        assert r.status_code == 409 and r.json()["title"] == "Stale fencing token"
        assert r.json()["holder"] == "p2" and r.json()["field"] == "lock_token"
        r = await c.post(f"/v1/sessions/{s}/locks/renew",
                         json={"scope": "fact:hp", "participant_id": "p1", "token": 1})
        assert r.status_code == 409
        assert (await release(c, s, "p1", 1, "fact:hp")).status_code == 409
        r = await release(c, s, "p2", 2, "fact:hp")
        assert r.status_code == 200 and r.json()["released"] is True
        assert (await release(c, s, "p2", 2, "fact:hp")).json()["released"] is False
        third = (await acquire(c, s, "dm", "state")).json()
        assert third["token"] == 3
        r = await c.get(f"/v1/sessions/{s}/locks")
        assert r.json()["lock_token"] == 3 and [lk["scope"] for lk in r.json()["locks"]] == ["state"]
        assert (await c.delete(f"/v1/sessions/{s}/participants/dm")).status_code == 409  # last owner
        events = await logged(c, s)
    assert [t for t, _ in acquisitions(events)] == [1, 2, 3]
    assert [e.payload.reason for e in events if e.event_type == "lock.released"] == [  # type: ignore[attr-defined]
        "expired", "released"]


async def _granted(c: httpx.AsyncClient, session: str, pid: str, scope: str) -> dict[str, Any] | None:
    r = await acquire(c, session, pid, scope)
    assert r.status_code in (200, 423), r.text
    return r.json() if r.status_code == 200 else None


async def test_two_processes_racing_for_one_lock_grant_it_to_one_holder_at_a_time(
        pair: Pair) -> None:
    """Participants race for `state` through two ingest processes on one database: each lease is
    granted to one holder at a time (every grant follows the release of the one before), the
    holder's fenced writes all land, and tokens strictly increase in the log."""
    a, b = pair
    s, players = "race", [f"p{i}" for i in range(4)]
    turn_ids = itertools.count(1)
    async with _client(a) as ca, _client(b) as cb:
        assert (await join(ca, s, "dm", "owner")).status_code == 200
        for i, pid in enumerate(players):
            assert (await join((ca, cb)[i % 2], s, pid, "editor")).status_code == 200
        grants: list[tuple[str, int]] = []

        async def player(i: int, pid: str) -> None:
            clients = (ca, cb) if i % 2 else (cb, ca)
            for attempt in range(400):
                c = clients[attempt % 2]
                r = await acquire(c, s, pid)
                if r.status_code == 423:
                    await asyncio.sleep(0.02)
                    continue
                assert r.status_code == 200, r.text
                token = r.json()["token"]
                grants.append((pid, token))
                r = await write(c, s, next(turn_ids), pid, fact("turn", pid), token=token)
                assert r.status_code == 200, r.text
                assert (await release(clients[1 - attempt % 2], s, pid, token)).status_code == 200
                if len([g for g in grants if g[0] == pid]) == 2:
                    return

        await asyncio.gather(*(player(i, pid) for i, pid in enumerate(players)))
        events = await logged(ca, s)
    granted = acquisitions(events)
    assert sorted(t for _, t in grants) == [t for t, _ in granted]
    assert [t for t, _ in granted] == sorted({t for t, _ in granted}), "tokens must strictly increase"
    holder: tuple[str, int] | None = None
    for e in events:  # one holder at a time: every grant finds the lease released
        if e.event_type == "lock.acquired":
            assert holder is None, f"{e.payload.participant_id} granted while {holder} held it"  # type: ignore[attr-defined]
            holder = (e.payload.participant_id, e.payload.token)  # type: ignore[attr-defined]
        elif e.event_type == "lock.released":
            assert holder == (e.payload.participant_id, e.payload.token)  # type: ignore[attr-defined]
            holder = None
        elif e.event_type == "turn.recorded":
            assert holder is not None and e.payload.acts[0].value == holder[0]  # type: ignore[attr-defined]


async def test_fencing_tokens_survive_a_sigkill(pair: Pair) -> None:
    """Tokens live in the log and the stored room: after SIGKILL of every ingest process and a
    restart, the next lease's token is greater than every one before, and the room
    (participants, leases) is as it was."""
    a, b = pair
    s = "crash"
    async with _client(b) as c:
        await join(c, s, "dm", "owner")
        await join(c, s, "p1", "editor")
        tokens = []
        for scope in ("fact:a", "fact:b", "stage"):
            tokens.append((await acquire(c, s, "p1", scope)).json()["token"])
        await release(c, s, "p1", tokens[0], "fact:a")
    a.kill()
    b.kill()
    async with _client(await asyncio.to_thread(a.start)) as c:
        r = await c.get(f"/v1/sessions/{s}/locks")
        assert [(lk["scope"], lk["token"]) for lk in r.json()["locks"]] == [("fact:b", 2), ("stage", 3)]
        assert (await write(c, s, 1, "dm", fact("b"))).status_code == 423
        after = (await acquire(c, s, "dm", "fact:a")).json()["token"]
        assert after > max(tokens) == 3
        events = await logged(c, s)
    room = fold(events).room
    assert room is not None and room.lock_token == after
    assert [t for t, _ in acquisitions(events)] == [1, 2, 3, 4]
