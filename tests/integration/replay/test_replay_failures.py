"""replay under failure: SIGKILL mid-write, Redis down, ingest down, Redis back."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from lifeline_events import canonical_json
from lifeline_testing.oracle import fold_of_log
from lifeline_testing.processes import auth
from lifeline_testing.waiting import eventually

from .helpers import FakeMemory, assert_state_matches_log, new_session, open_ws, post_turns, recv, wait_mode


async def test_sigkill_while_writing_then_restart_converges_to_the_fold_of_the_log(
        fresh_database, bus_url, redis_url, processes) -> None:
    """replay SIGKILLed while sessions are being written restarts and converges, on either bus,
    to exactly fold(ingest's log) for every session, its checkpoint at the end of the log."""
    start_ingest, start_replay = processes
    ingest = start_ingest(fresh_database, bus_url)
    replay = start_replay(fresh_database, bus_url, redis_url, ingest.url, bus_reclaim_idle_ms="1000")
    sessions = [new_session("kill") for _ in range(3)]
    last: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        async def writer(session: str, rounds: int, first: int) -> None:
            for i in range(rounds):
                last[session] = await post_turns(http, ingest.url, session, first + 7 * i, 7)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(writer(s, 4, 1) for s in sessions))
        writing = asyncio.gather(*(writer(s, 8, 29) for s in sessions))
        await asyncio.sleep(0.15)
        replay.kill()
        await writing
        await asyncio.to_thread(replay.start)
        for session in sessions:
            await wait_mode(http, replay.url, session, "replay", last[session], timeout=60)
            await assert_state_matches_log(http, replay.url, ingest.url, session, last[session])

            async def checkpoint_at_end(s: str = session) -> bool:
                r = await http.get(f"{replay.url}/v1/sessions/{s}/checkpoint", headers=auth())
                return r.json()["last_seq"] == last[s]

            await eventually(checkpoint_at_end, timeout=30, what=f"checkpoint of {session} at its end")


async def test_ladder_redis_down_then_ingest_down_then_redis_back(
        fresh_database, redis_url, disposable_server, processes) -> None:
    """Redis down → mode log (still the fold of the log, live events still flow); ingest down
    too → mode cold (stale, with the long-term profile); Redis back → mode replay again,
    without a restart; SIGTERM then closes sockets and shuts down cleanly."""
    start_ingest, start_replay = processes
    hot = disposable_server("redis")
    ingest = start_ingest(fresh_database, redis_url)
    memory = await FakeMemory({"focus": [{"text": "practise handling price objections"}]}).__aenter__()
    replay = start_replay(fresh_database, redis_url, hot.url + "/0", ingest.url, memory_url=memory.url)
    session = new_session("ladder")
    async with httpx.AsyncClient(timeout=30) as http:
        last = await post_turns(http, ingest.url, session, 1, 12)
        await wait_mode(http, replay.url, session, "replay", last)
        r = await http.get(f"{replay.url}/v1/sessions/{session}/context", headers=auth())
        assert "practise handling price objections" in r.json()["messages"][0]["content"]
        assert memory.requests[-1].startswith("GET /v1/persons/p-1/bias?tenant_id=default")

        await hot.akill()
        last = await post_turns(http, ingest.url, session, 13, 3)
        body = await wait_mode(http, replay.url, session, "log", last)
        assert canonical_json(body["state"]) == canonical_json(await fold_of_log(ingest.url, session))
        async with open_ws(replay.url, session) as ws:
            sync = await recv(ws)
            assert sync["mode"] == "log" and sync["seq"] == last
            last = await post_turns(http, ingest.url, session, 16, 1)
            assert (await recv(ws))["seq"] == last
        truth = await fold_of_log(ingest.url, session)

        ingest.kill()
        body = await wait_mode(http, replay.url, session, "cold")
        assert body["staleness"]["stale"] is True and body["seq"] <= last and body["state"]["session_id"]
        # the cold answer is the head PostgreSQL keeps, stored compressed by replay (zstd)
        conn = await asyncpg.connect(fresh_database)
        stored = await conn.fetchrow("SELECT seq, compression, state IS NULL AS blob_only "
                                     "FROM replay.sessions WHERE session_id = $1", session)
        await conn.close()
        assert (stored["compression"], stored["blob_only"]) == ("zstd", True) and stored["seq"] == body["seq"]
        assert body["profile"] == {"focus": [{"text": "practise handling price objections"}]}
        r = await http.get(f"{replay.url}/ready")
        assert r.status_code == 200 and {"redis", "ingest"} <= set(r.json()["degraded"])

        await hot.arestart()
        body = await wait_mode(http, replay.url, session, "replay", last, timeout=30)
        assert canonical_json(body["state"]) == canonical_json(truth)
        async with open_ws(replay.url, session) as ws:
            sync = await recv(ws)
            assert sync["mode"] == "replay" and sync["seq"] == last
            code = await asyncio.to_thread(replay.terminate)
            with pytest.raises(ConnectionClosed):
                await recv(ws)
    # uvicorn re-raises the signal once its shutdown is complete: ended by SIGTERM, not crashed
    assert code in (0, -signal.SIGTERM) and '"shutdown.done"' in replay.tail(), replay.tail()
    await memory.__aexit__()
