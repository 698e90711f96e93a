"""A state behind the log is told as stale, with the lag, and /ready says degraded (defect 8)."""

from __future__ import annotations

import httpx
import orjson

from lifeline_testing.processes import auth
from lifeline_testing.waiting import eventually

from .helpers import new_session, post_turns, wait_mode, ws_url


async def test_a_projection_behind_the_log_is_served_stale_with_its_lag(
        fresh_database, redis_url, processes) -> None:
    """The relay stops (its process dies): replay still serves seq 3 while the log is at 5,
    marked stale with lag 2 in GET state, the context and RECOVERY_SYNC; /ready degraded."""
    start_ingest, start_replay = processes
    writer = start_ingest(fresh_database, redis_url, relay_enabled="false")
    relay = start_ingest(fresh_database, redis_url, turns_consumer_enabled="false")
    replay = start_replay(fresh_database, redis_url, redis_url, writer.url)
    session = new_session("stale")
    async with httpx.AsyncClient(timeout=30, headers=auth()) as http:
        await post_turns(http, writer.url, session, 1, 3)
        fresh = await wait_mode(http, replay.url, session, "replay", 3)
        assert fresh["staleness"]["stale"] is False and fresh["staleness"]["lag"] == 0
        relay.kill()
        await post_turns(http, writer.url, session, 4, 2)

        state = (await http.get(f"{replay.url}/v1/sessions/{session}/state")).json()
        assert (state["mode"], state["seq"]) == ("replay", 3)
        assert state["staleness"]["stale"] is True and state["staleness"]["lag"] == 2
        context = (await http.get(f"{replay.url}/v1/sessions/{session}/context")).json()
        assert context["staleness"]["stale"] is True and context["staleness"]["lag"] == 2
        sync = await _recovery_sync(replay.url, session)
        assert sync["staleness"]["stale"] is True and sync["staleness"]["lag"] == 2

        async def degraded() -> bool:
            body = (await http.get(f"{replay.url}/ready")).json()
            return "projection" in body["degraded"]

        await eventually(degraded, what="/ready degraded naming the projection")


async def _recovery_sync(replay_url: str, session: str) -> dict:
    from websockets.asyncio.client import connect

    async with connect(ws_url(replay_url, session), additional_headers=auth()) as ws:
        return orjson.loads(await ws.recv())
