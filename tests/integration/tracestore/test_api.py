"""trace-store's replay API on real PostgreSQL and Redis: shapes, scopes, isolation, bad input."""

from __future__ import annotations

import httpx

from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.tracestore import wait_session_traces

TRACE_KEYS = {"trace_id", "person_id", "session_id", "event_type", "timestamp", "event_data",
              "context_snapshot", "otel_trace_id"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _session(n: int, person: str) -> list[dict]:
    acts = [{"op": "confirm_fact", "key": "service", "value": "veneers"}]
    return [turn(i, f"t{i}", person_id=person, acts=acts if i == 2 else []) for i in range(1, n + 1)]


async def test_replay_rebuilds_the_stored_context_and_answers_the_seed_shapes(fresh_database, redis_url,
                                                                             procs) -> None:
    """GET/POST/DELETE /replay/{id}, session and person listings answer the public shapes."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-1", _session(4, "p-7"), headers={"traceparent": TRACEPARENT})
    await append(ingest.url, "s-2", _session(3, "p-7"))
    traces = await wait_session_traces(store.url, "p-7", "s-1", 4)
    await wait_session_traces(store.url, "p-7", "s-2", 3)
    async with httpx.AsyncClient(base_url=store.url, headers=auth()) as c:
        one = (await c.get(f"/replay/{traces[2]['trace_id']}")).json()
        assert set(one) == TRACE_KEYS and one == traces[2]
        r = await c.post(f"/replay/{one['trace_id']}",
                         json={"trace_id": one["trace_id"], "include_context": True, "time_scale": 2.0})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"trace", "replay_metadata", "replay_result"}
        assert body["trace"] == one
        assert set(body["replay_metadata"]) == {"requested_at", "include_context", "time_scale",
                                                "original_event_type", "replay_available"}
        assert body["replay_metadata"]["replay_available"] is True
        assert body["replay_metadata"]["time_scale"] == 2.0
        assert body["replay_metadata"]["original_event_type"] == "turn.recorded"
        result = body["replay_result"]
        assert set(result) == {"context_state", "fusion_timestamp", "is_replay", "original_timestamp"}
        assert result["context_state"] == one["context_snapshot"]
        assert result["context_state"]["confirmed_facts"] == {"service": "veneers"}
        assert result["is_replay"] is True and result["original_timestamp"] == one["timestamp"]
        # the context stands for the instant its newest event was recorded: this trace's own
        assert result["fusion_timestamp"] == one["timestamp"]
        bare = (await c.post(f"/replay/{one['trace_id']}", json={"include_context": False})).json()
        assert bare["replay_result"]["context_state"] is None and bare["trace"]["context_snapshot"] is None
        bare_result = bare["replay_result"]
        assert (bare_result["is_replay"], bare_result["fusion_timestamp"]) == (False, None)
        first_two = (await c.get("/replay/session/p-7/s-1", params={"limit": 2})).json()
        assert [t["trace_id"] for t in first_two] == [t["trace_id"] for t in traces[:2]]
        page = (await c.get("/replay/person/p-7", params={"offset": 5, "limit": 5})).json()
        assert (page["total_count"], page["has_more"], len(page["traces"])) == (7, False, 2)
        newest = (await c.get("/replay/person/p-7", params={"limit": 3})).json()
        assert newest["has_more"] is True and newest["traces"][0]["session_id"] == "s-2"
        # Deleting a trace leaves a hole in the stored log: replay falls back to ingest's log.
        assert (await c.delete(f"/replay/{traces[0]['trace_id']}")).json()["deleted"] is True
        assert (await c.get(f"/replay/{traces[0]['trace_id']}")).status_code == 404
        later = (await c.post(f"/replay/{traces[3]['trace_id']}", json={})).json()
        assert later["replay_result"]["context_state"] == traces[3]["context_snapshot"]
        assert later["replay_metadata"]["replay_available"] is True


async def test_scopes_tenants_and_bad_input(fresh_database, redis_url, procs) -> None:
    """Other tenants get 404/empty, admin endpoints refuse read keys, bad input names its field."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-1", _session(2, "p-7"))
    traces = await wait_session_traces(store.url, "p-7", "s-1", 2)
    tid = traces[0]["trace_id"]
    async with httpx.AsyncClient(base_url=store.url) as c:
        assert (await c.get(f"/replay/{tid}")).status_code == 401
        other = auth("test-other-tenant")
        assert (await c.get(f"/replay/{tid}", headers=other)).status_code == 404
        assert (await c.post(f"/replay/{tid}", json={}, headers=other)).status_code == 404
        assert (await c.get("/replay/session/p-7/s-1", headers=other)).json() == []
        assert (await c.get("/replay/person/p-7", headers=other)).json()["total_count"] == 0
        by_otel = f"/v1/traces/by-otel/{traces[0]['otel_trace_id']}"
        assert (await c.get(by_otel, headers=other)).status_code == 404
        read_only = auth("test-read-only")
        assert (await c.get(f"/replay/{tid}", headers=read_only)).status_code == 200
        admin_only = [("GET", "/replay/stats"), ("POST", "/replay/cleanup"), ("DELETE", f"/replay/{tid}")]
        for method, path in admin_only:
            r = await c.request(method, path, headers=read_only)
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        bad = await c.get("/replay/not-a-uuid", headers=auth())
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.trace_id"
        mismatch = await c.post(f"/replay/{tid}", json={"trace_id": traces[1]["trace_id"]}, headers=auth())
        assert mismatch.status_code == 422 and "trace_id" in mismatch.json()["detail"]
        slow = await c.post(f"/replay/{tid}", json={"time_scale": -1}, headers=auth())
        assert slow.status_code == 422 and slow.json()["errors"][0]["field"] == "time_scale"
        page = await c.get("/replay/person/p-7", params={"limit": 0}, headers=auth())
        assert page.status_code == 422 and "limit" in page.json()["detail"]
        otel = await c.get("/v1/traces/by-otel/XYZ", headers=auth())
        assert otel.status_code == 422 and "otel_trace_id" in otel.json()["detail"]
        stats = (await c.get("/replay/stats", headers=auth())).json()
        assert set(stats) == {"total_traces", "top_persons", "event_types", "recent_activity",
                              "stats_timestamp"}
        assert stats["total_traces"] == 2
        assert stats["top_persons"] == [{"person_id": "p-7", "trace_count": 2}]
        assert stats["event_types"] == [{"event_type": "turn.recorded", "count": 2}]
        assert stats["recent_activity"][0]["trace_count"] == 2
        assert (await c.get("/replay/stats", headers=auth("test-other-tenant"))).status_code == 403


async def test_read_after_write_and_by_otel(fresh_database, redis_url, procs) -> None:
    """?min_seq= waits for the session's traces (504 past the bound, 404 for a session never
    seen); by-otel lists one trace's events."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest, trace_read_wait_ms=400)
    async with httpx.AsyncClient(base_url=store.url, headers=auth()) as c:
        for n in range(1, 6):
            results = await append(ingest.url, "s-1", [turn(n, person_id="p-7")],
                                   headers={"traceparent": TRACEPARENT})
            got = (await c.get("/replay/session/p-7/s-1", params={"min_seq": results[0]["seq"]})).json()
            assert len(got) == n, f"read-your-writes broken at seq {n}"
        await append(ingest.url, "s-2", [turn(1, person_id="p-8")], headers={"traceparent": TRACEPARENT})
        await wait_session_traces(store.url, "p-8", "s-2", 1)
        late = await c.get("/replay/session/p-7/s-1", params={"min_seq": 99})
        assert late.status_code == 504 and late.json()["stored_seq"] == 5
        unknown = await c.get("/replay/session/p-7/s-none", params={"min_seq": 1})
        assert unknown.status_code == 404
        otel = (await c.get(f"/v1/traces/by-otel/{TRACEPARENT.split('-')[1]}")).json()
        assert [(e["session_id"], e["seq"]) for e in otel["events"]] == [("s-1", n) for n in range(1, 6)] + [
            ("s-2", 1)]
        assert otel["services"] == ["ingest", "trace-store"]
        assert [h["service"] for h in otel["events"][0]["handled_by"]] == ["ingest", "trace-store"]
        assert (await c.get(f"/v1/traces/by-otel/{'f' * 32}")).status_code == 404
