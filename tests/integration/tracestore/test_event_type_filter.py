"""`?event_type=` on trace-store's listings: filtered in SQL by the (partition-wide) index."""

from __future__ import annotations

import asyncpg
import httpx

from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.tracestore import wait_session_traces

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _session(person: str) -> list[dict]:
    return [{"event_type": "session.started", "person_id": person, "payload": {"channel": "web"}},
            turn(1, "hi", person_id=person), turn(2, "there", person_id=person),
            {"event_type": "session.finished", "person_id": person, "payload": {}}]


async def _partitions_missing_the_indexes(database_url: str) -> list[tuple[str, int, int]]:
    """(parent index, partitions, partitions carrying it) where the two counts differ."""
    conn = await asyncpg.connect(database_url)
    try:
        partitions = await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'traces.event_traces'::regclass")
        rows = await conn.fetch(
            "SELECT p.relname, count(h.inhrelid) AS n FROM pg_class p "
            "LEFT JOIN pg_inherits h ON h.inhparent = p.oid WHERE p.relname IN "
            "('event_traces_person_type', 'event_traces_session_type') GROUP BY 1")
    finally:
        await conn.close()
    assert len(rows) == 2 and partitions >= 1
    return [(r["relname"], partitions, r["n"]) for r in rows if r["n"] != partitions]


async def test_listings_filter_by_event_type_and_refuse_unknown_types(fresh_database, redis_url,
                                                                      procs) -> None:
    """Session, stream, person and by-otel listings keep only the asked types (several when
    repeated); an unknown type is a 422 listing the allowed ones; the day partitions carry the index."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-1", _session("p-7"), headers={"traceparent": TRACEPARENT})
    await append(ingest.url, "s-2", [turn(1, person_id="p-7")])
    await wait_session_traces(store.url, "p-7", "s-1", 4)
    await wait_session_traces(store.url, "p-7", "s-2", 1)
    async with httpx.AsyncClient(base_url=store.url, headers=auth()) as c:
        turns = (await c.get("/replay/session/p-7/s-1", params={"event_type": "turn.recorded"})).json()
        assert [(t["event_type"], t["event_data"]["seq"]) for t in turns] == [
            ("turn.recorded", 2), ("turn.recorded", 3)]
        both = [("event_type", "session.started"), ("event_type", "session.finished")]
        ends = (await c.get("/replay/session/p-7/s-1", params=both)).json()
        assert [t["event_type"] for t in ends] == ["session.started", "session.finished"]
        page = (await c.get("/replay/person/p-7", params={"event_type": "turn.recorded", "limit": 2})).json()
        assert (page["total_count"], page["has_more"]) == (3, True)
        assert {t["event_type"] for t in page["traces"]} == {"turn.recorded"}
        assert page["traces"][0]["session_id"] == "s-2"
        none = (await c.get("/replay/person/p-7", params={"event_type": "model.state.changed"})).json()
        assert none == {"traces": [], "total_count": 0, "has_more": False}
        otel = (await c.get(f"/v1/traces/by-otel/{TRACEPARENT.split('-')[1]}",
                            params={"event_type": "session.finished"})).json()
        assert [e["event_type"] for e in otel["events"]] == ["session.finished"]
        stream = await c.post("/replay/session/p-7/s-1/stream",
                              params={"event_type": "session.finished", "time_scale": 0})
        assert stream.status_code == 200 and stream.text.count("session.finished") >= 1
        assert "turn.recorded" not in stream.text
        for path in ("/replay/session/p-7/s-1", "/replay/person/p-7", "/replay/session/p-7/s-1/stream"):
            method = c.post if path.endswith("stream") else c.get
            bad = await method(path, params={"event_type": "turn.recoded"})
            assert bad.status_code == 422, path
            problem = bad.json()
            assert problem["errors"][0]["field"] == "query.event_type"
            assert "'turn.recoded'" in problem["detail"] and "turn.recorded" in problem["detail"]
    assert await _partitions_missing_the_indexes(fresh_database) == []
