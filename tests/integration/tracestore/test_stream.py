"""Session replay as Server-Sent Events, paced by the original gaps × time_scale, gaps capped."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from lifeline_events import TOPIC_EVENTS
from lifeline_testing.processes import auth
from lifeline_testing.topics import produce_raw, read_topic
from lifeline_testing.tracestore import wait_session_traces
from lifeline_testing.waiting import eventually

from .helpers import logged


async def _sse(client: httpx.AsyncClient, url: str, **params: object) -> list[tuple[float, str, dict]]:
    """(arrival time, event name, data) of every server-sent event."""
    out: list[tuple[float, str, dict]] = []
    name = ""
    async with client.stream("POST", url, params=params) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((time.monotonic(), name, orjson.loads(line[6:])))
    return out


async def test_stream_paces_traces_by_their_gaps(fresh_database, redis_url, procs) -> None:
    """Gaps of 2 s and 100 s at time_scale 0.2 become 0.4 s and the 0.8 s cap; poison goes to the DLQ."""
    store = procs.tracestore(fresh_database, redis_url, trace_stream_max_gap_s=0.8)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    records = [logged("s", 1, t0), logged("s", 2, t0 + timedelta(seconds=2)),
               logged("s", 3, t0 + timedelta(seconds=102))]
    await produce_raw(redis_url, TOPIC_EVENTS, [("s", b'{"event_type": "turn.recorded"}'), *records])
    await wait_session_traces(store.url, "p-1", "s", 3)
    async with httpx.AsyncClient(base_url=store.url, headers=auth(), timeout=30) as c:
        events = await _sse(c, "/replay/session/p-1/s/stream", time_scale=0.2)
        assert [e[1] for e in events] == ["start", "trace", "trace", "trace", "end"]
        traces = [e for e in events if e[1] == "trace"]
        assert [t[2]["event_data"]["seq"] for t in traces] == [1, 2, 3]
        gaps = [traces[i + 1][0] - traces[i][0] for i in range(2)]
        assert 0.3 < gaps[0] < 0.7, gaps
        assert 0.7 < gaps[1] < 1.2, gaps
        fast = await _sse(c, "/replay/session/p-1/s/stream", time_scale=0)
        assert fast[-1][0] - fast[0][0] < 0.3
        missing = await c.post("/replay/session/p-1/nope/stream")
        assert missing.status_code == 404
        other = await c.post("/replay/session/p-1/s/stream", headers=auth("test-other-tenant"))
        assert other.status_code == 404

    async def dead_lettered() -> list:
        return [r for r in await read_topic(redis_url, "lifeline.dlq.v1")
                if r.headers.get("source_topic") == TOPIC_EVENTS]

    dlq = await eventually(dead_lettered, what="the invalid event on the DLQ")
    assert "not a valid event" in dlq[0].headers["reason"]
