"""On the topic path each record keeps its own trace: header, then body, else a new one."""

from __future__ import annotations

import httpx
import orjson

from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.topics import produce_raw
from lifeline_testing.waiting import eventually

from .helpers import bus_ready

HEADER_TP = "00-11111111111111111111111111111111-1111111111111111-01"
BODY_TP = "00-22222222222222222222222222222222-2222222222222222-01"


async def test_every_record_of_a_batch_keeps_its_own_trace(fresh_database, bus_url, start_ingest) -> None:
    """Three records in one batch: the header's trace, the body's, and a fresh one each."""
    ingest = start_ingest(fresh_database, bus_url)
    await bus_ready(ingest)
    records = [{**turn(1), "session_id": "s-t", "traceparent": BODY_TP},   # header wins
               {**turn(2), "session_id": "s-t", "traceparent": BODY_TP},   # body
               {**turn(3), "session_id": "s-t"},                           # none: new
               {**turn(4), "session_id": "s-t"}]
    await produce_raw(bus_url, "lifeline.turns.v1", [("s-t", orjson.dumps(r)) for r in records],
                      headers=[{"traceparent": HEADER_TP}, {}, {}, {}])

    async def logged() -> list[str]:
        async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
            r = await c.get("/v1/sessions/s-t/events")
        events = r.json().get("events", []) if r.status_code == 200 else []
        return [e["traceparent"] for e in events] if len(events) == 4 else []

    traces = await eventually(logged, what="4 events in the log")
    assert traces[:2] == [HEADER_TP, BODY_TP]
    fresh = {t.split("-")[1] for t in traces[2:]}
    assert len(fresh) == 2 and not fresh & {HEADER_TP.split("-")[1], BODY_TP.split("-")[1]}
