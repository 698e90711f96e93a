"""ingest under failure: concurrent writers, crashes, outages, garbage on the topic."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal

import httpx
import orjson
import redis.asyncio as aioredis

from lifeline_testing.branches import half_created_branch
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.topics import produce_raw, read_topic
from lifeline_testing.waiting import eventually

from .helpers import all_published, assert_gapless, assert_on_bus_in_order, bus_ready, log_rows, post


async def test_two_processes_writing_one_session_keep_seq_gapless(
        fresh_database, redis_url, start_ingest) -> None:
    """Two ingest processes appending to one session at once give seq 1..n, each turn once."""
    a = start_ingest(fresh_database, redis_url)
    b = start_ingest(fresh_database, redis_url)
    turn_ids = itertools.count(1)

    async def writer(url: str, n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            for _ in range(n):
                t = next(turn_ids)
                for target in (c, c):  # every turn is sent twice: the retry must dedupe
                    r = await post(target, "shared", [turn(t)])
                    assert r.status_code == 200, r.text

    await asyncio.gather(*(writer(p.url, 15) for p in (a, b) for _ in range(8)))
    # the same turns once more through the other process: all duplicates
    async with httpx.AsyncClient(base_url=b.url) as c:
        r = await post(c, "shared", [turn(t) for t in range(1, 50)])
        assert all(x["duplicate"] for x in r.json()["results"])
    turns = assert_gapless(await log_rows(fresh_database))
    assert sorted(turns["shared"]) == list(range(1, 241))


async def test_topic_records_land_once_and_garbage_is_dead_lettered(
        fresh_database, bus_url, start_ingest) -> None:
    """Plain records land in the log deduped; each kind of garbage goes to the DLQ with its
    reason and original bytes, and the consumer keeps going."""
    ingest = start_ingest(fresh_database, bus_url)
    await bus_ready(ingest)

    def rec(session: str, turn_id: int, **extra: object) -> bytes:
        return orjson.dumps({"session_id": session, **turn(turn_id), **extra})

    garbage = [
        b"\xff\xfe not utf-8",
        b'{"session_id": "t1", "event_type": "turn.rec',
        orjson.dumps({"session_id": "t1", "event_type": "turn.recorded", "turn_id": "one",
                      "payload": {"role": "user", "text": 5}}),
        orjson.dumps({"event_type": "turn.recorded", "turn_id": 9, "payload": {"role": "user", "text": "x"}}),
        rec("t1", 10, payload={"role": "user", "text": "x" * 70_000}),
        b"[1, 2, 3]",
    ]
    good = [rec("t1", 1), rec("t1", 2), rec("t2", 1), rec("t1", 1)]  # last one is a redelivery
    records = [(None, good[0]), *((None, g) for g in garbage), *((None, g) for g in good[1:])]
    await produce_raw(bus_url, "lifeline.turns.v1", [(("t1" if k is None else k), v) for k, v in records])

    async def dead() -> list:
        found = await read_topic(bus_url, "lifeline.dlq.v1")
        return found if len(found) >= len(garbage) else []

    dlq = await eventually(dead, timeout=30, what="every garbage record on the DLQ")
    assert sorted(r.value for r in dlq) == sorted(garbage)
    reasons = {r.value: r.headers["reason"] for r in dlq}
    assert "not valid JSON" in reasons[garbage[0]] and "not valid JSON" in reasons[garbage[1]]
    assert "turn_id" in reasons[garbage[2]] and "payload.text" in reasons[garbage[2]]
    assert "session_id" in reasons[garbage[3]]
    assert "limit" in reasons[garbage[4]]

    async def landed() -> list:
        rows = await log_rows(fresh_database)
        return rows if len(rows) >= 3 else []

    rows = await eventually(landed, timeout=30, what="valid records in the log")
    await asyncio.sleep(0.5)
    rows = await log_rows(fresh_database)
    assert assert_gapless(rows) == {"t1": [1, 2], "t2": [1]}


async def test_topic_records_for_a_branch_being_created_are_dead_lettered_not_logged_first(
        fresh_database, bus_url, start_ingest) -> None:
    """A record for a branch whose session.branched never comes (creation interrupted) is
    dead-lettered with the reason after a bounded wait, the consumer goes on, and once the
    creation's retry finishes the branch the record, sent again, lands after session.branched."""
    ingest = start_ingest(fresh_database, bus_url)
    await bus_ready(ingest)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        assert (await post(c, "tp", [turn(1), turn(2)])).status_code == 200
    await half_created_branch(fresh_database, "tp", "z", 2)  # the branch's rows without its first event
    early, other = (orjson.dumps({"session_id": s, **turn(t)}) for s, t in (("tp.z", 3), ("other", 1)))
    await produce_raw(bus_url, "lifeline.turns.v1", [("tp.z", early), ("other", other)])

    async def dead() -> list:
        return await read_topic(bus_url, "lifeline.dlq.v1")

    [dlq] = await eventually(dead, timeout=30, what="the early record on the DLQ")
    assert dlq.value == early and "session.branched, seq 3" in dlq.headers["reason"]

    async def other_landed() -> bool:
        return any(r["session_id"] == "other" for r in await log_rows(fresh_database))

    await eventually(other_landed, timeout=30, what="the other session's record logged")
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        made = await c.post("/v1/sessions/tp/branches", json={"from_seq": 2, "name": "z"}, headers=auth())
        assert made.status_code == 201 and made.json()["seq"] == 3, made.text
    await produce_raw(bus_url, "lifeline.turns.v1", [("tp.z", early)])

    async def branch_rows() -> list:
        rows = [r for r in await log_rows(fresh_database) if r["session_id"] == "tp.z"]
        return rows if len(rows) == 2 else []

    rows = await eventually(branch_rows, timeout=30, what="the record logged after session.branched")
    assert [(r["seq"], r["turn_id"]) for r in rows] == [(3, None), (4, 3)]


async def _hammer(url: str, session_prefix: str, acked: list[tuple[str, int]], stop: asyncio.Event,
                  start_turn: int) -> None:
    """Post batches of 25 until stopped or the server dies; remember what was acknowledged."""
    counter = itertools.count(start_turn, 25)
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        while not stop.is_set():
            first = next(counter)
            session = f"{session_prefix}-{first % 3}"
            try:
                r = await post(c, session, [turn(t) for t in range(first, first + 25)])
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked.extend((session, t) for t in range(first, first + 25))


async def test_sigkill_mid_batch_and_mid_relay_loses_and_doubles_nothing(
        fresh_database, bus_url, start_ingest) -> None:
    """After SIGKILL during appends and again during relaying, every acknowledged event is in
    the log exactly once, seq has no gap, and everything logged reaches the bus in order."""
    acked: list[tuple[str, int]] = []
    ingest = start_ingest(fresh_database, bus_url, relay_enabled="false")
    stop = asyncio.Event()
    writers = [asyncio.create_task(_hammer(ingest.url, f"k{w}", acked, stop, w * 1_000_000))
               for w in range(6)]
    await eventually(lambda: _at_least(acked, 500), what="some acknowledged batches")
    ingest.kill()  # mid-batch: requests are in flight
    stop.set()
    await asyncio.gather(*writers)
    rows = await log_rows(fresh_database)
    logged = {(r["session_id"], r["turn_id"]) for r in rows}
    assert set(acked) <= logged, "an acknowledged event was lost"
    assert_gapless(rows)

    # the relay runs from start-up, before readiness (which on Kafka waits for the topic
    # consumer's first join): watch it from the first answer, or the backlog is gone already
    ingest = start_ingest(fresh_database, bus_url, wait_ready=False, relay_batch="5", relay_poll_s="0.05")

    async def relay_half_done() -> bool:
        rows = await log_rows(fresh_database)
        done = sum(r["published_at"] is not None for r in rows)
        return 0 < done < len(rows)

    await eventually(relay_half_done, interval=0.01, what="relay part way through the backlog")
    ingest.kill()  # mid-relay
    ingest = start_ingest(fresh_database, bus_url)
    await eventually(lambda: all_published(fresh_database), timeout=60, what="the backlog published")
    rows = await log_rows(fresh_database)
    assert len(rows) == len({(r["session_id"], r["turn_id"]) for r in rows})
    assert set(acked) <= {(r["session_id"], r["turn_id"]) for r in rows}
    assert_gapless(rows)
    await assert_on_bus_in_order(bus_url, rows)


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n


async def test_bus_down_ingest_keeps_accepting_and_relay_catches_up(
        fresh_database, disposable_server, start_ingest) -> None:
    """With the bus down, appends still succeed and wait in the outbox; when it returns they
    are published and the topic consumer works again."""
    redis = disposable_server("redis")
    url = redis.url.rstrip("/") + "/0" if redis.url.count("/") < 3 else redis.url
    ingest = start_ingest(fresh_database, url)
    await bus_ready(ingest)
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as c:
        assert (await post(c, "s1", [turn(1)])).status_code == 200
        await eventually(lambda: all_published(fresh_database), what="first event published")
        redis.kill()
        for t in range(2, 6):
            r = await post(c, "s1", [turn(t)])
            assert r.status_code == 200, r.text
        ready = (await c.get("/ready")).json()
        assert ready["status"] == "degraded" and "bus" in ready["degraded"]
        wal = (await c.get("/v1/sessions/s1/wal", headers=auth())).json()
        assert wal["unpublished"] == 4
        redis.restart()
        await eventually(lambda: all_published(fresh_database), timeout=30, what="outbox drained")
    # the embedded Redis restarts empty: everything logged since the outage is on the bus,
    # and the consumer group comes back by itself
    rows = [r for r in await log_rows(fresh_database) if r["seq"] >= 2]
    await assert_on_bus_in_order(url, rows)
    await produce_raw(url, "lifeline.turns.v1", [("s2", orjson.dumps({"session_id": "s2", **turn(1)}))])
    await eventually(lambda: _has_session(fresh_database, "s2"), timeout=30, what="topic works again")


async def _has_session(database_url: str, session: str) -> bool:
    return any(r["session_id"] == session for r in await log_rows(database_url))


async def test_postgres_down_http_503_topic_unacked_then_recovered(
        disposable_server, redis_url, start_ingest) -> None:
    """With PostgreSQL down HTTP answers 503 and topic records stay unacknowledged; when it
    returns both paths work and nothing is lost."""
    pg = disposable_server("postgres")
    ingest = start_ingest(pg.url, redis_url)
    await bus_ready(ingest)
    async with httpx.AsyncClient(base_url=ingest.url, timeout=20) as c:
        assert (await post(c, "s1", [turn(1)])).status_code == 200
        pg.kill()
        down = await post(c, "s1", [turn(2)])
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("application/problem+json")
        assert (await c.get("/ready")).status_code == 503
        await produce_raw(redis_url, "lifeline.turns.v1",
                          [("s2", orjson.dumps({"session_id": "s2", **turn(1)}))])
        await asyncio.sleep(1.0)
        client = aioredis.from_url(redis_url)
        try:
            pending = await client.xpending("lifeline.turns.v1", "ingest")
        finally:
            await client.aclose()
        assert pending["pending"] == 1, "the topic record was acknowledged while the log was down"
        pg.restart()
        await eventually(lambda: _ok(c), timeout=30, what="HTTP appends working again")
    await eventually(lambda: _has_session(pg.url, "s2"), timeout=30, what="topic record logged")
    turns = assert_gapless(await log_rows(pg.url))
    assert turns["s1"][:1] == [1] and turns["s2"] == [1]


async def _ok(c: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await post(c, "s1", [turn(3)])).status_code == 200
    return False


async def test_sigterm_drains_in_flight_work_and_exits_cleanly(
        fresh_database, redis_url, start_ingest) -> None:
    """SIGTERM under load: in-flight requests finish, every acknowledged event is logged,
    and the process exits only after its shutdown sequence completed."""
    acked: list[tuple[str, int]] = []
    ingest = start_ingest(fresh_database, redis_url)
    stop = asyncio.Event()
    writers = [asyncio.create_task(_hammer(ingest.url, f"t{w}", acked, stop, w * 1_000_000))
               for w in range(4)]
    await eventually(lambda: _at_least(acked, 300), what="some acknowledged batches")
    code = await asyncio.to_thread(ingest.terminate)
    stop.set()
    await asyncio.gather(*writers)
    # uvicorn re-raises the signal once its shutdown is complete: killed by SIGTERM, not crashed
    assert code in (0, -signal.SIGTERM), ingest.tail()
    assert '"shutdown.done"' in ingest.log_path.read_text()
    rows = await log_rows(fresh_database)
    assert set(acked) <= {(r["session_id"], r["turn_id"]) for r in rows}
    assert_gapless(rows)
