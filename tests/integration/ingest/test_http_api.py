"""ingest's HTTP contract (README, docs/events.md) on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually


async def test_append_batch_assigns_gapless_seq_and_dedupes(fresh_database, redis_url, start_ingest) -> None:
    """A batch gets seq 1..n; a repeated turn_id or event_id answers its original seq as duplicate."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        r = await c.post("/v1/sessions/s-42/events", json={"events": [turn(1), turn(2, "b"), turn(3, "c")]})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["seq"] for x in results] == [1, 2, 3]
        assert not any(x["duplicate"] for x in results)
        again = await c.post("/v1/sessions/s-42/events", json={"events": [turn(2, "changed"), turn(4)]})
        assert [(x["seq"], x["duplicate"]) for x in again.json()["results"]] == [(2, True), (4, False)]
        assert again.json()["results"][0]["event_id"] == results[1]["event_id"]
        by_id = {"event_type": "session.started", "event_id": results[0]["event_id"], "payload": {}}
        dup = await c.post("/v1/sessions/s-42/events", json=by_id)
        assert dup.json()["results"] == [{"event_id": results[0]["event_id"], "seq": 1, "duplicate": True}]
        log = (await c.get("/v1/sessions/s-42/events", params={"after_seq": 0})).json()
        assert [e["seq"] for e in log["events"]] == [1, 2, 3, 4]
        assert log["events"][1]["payload"]["text"] == "b"  # the duplicate changed nothing


async def test_expected_seq_gives_optimistic_concurrency(fresh_database, redis_url, start_ingest) -> None:
    """A stale expected_seq gets 409 with the current seq and writes nothing; a retry is idempotent."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        ok = await c.post("/v1/sessions/s1/events", json={"events": [turn(1)], "expected_seq": 0})
        assert ok.status_code == 200
        stale = await c.post("/v1/sessions/s1/events", json={"events": [turn(2)], "expected_seq": 0})
        assert stale.status_code == 409
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert stale.json()["current_seq"] == 1
        retry = await c.post("/v1/sessions/s1/events", json={"events": [turn(1)], "expected_seq": 0})
        assert retry.status_code == 200 and retry.json()["results"][0]["duplicate"] is True
        assert (await c.get("/v1/sessions/s1")).json()["last_seq"] == 1


async def test_bad_input_is_named_and_nothing_is_written(fresh_database, redis_url, start_ingest) -> None:
    """Invalid events give 422 naming the field, oversize 413; accepted events are untouched."""
    ingest = start_ingest(fresh_database, redis_url, max_batch_events="10")
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/s1/events", json={"events": [turn(1)]})
        bad = await c.post("/v1/sessions/s1/events", json={"events": [
            turn(2),
            {"event_type": "turn.recorded", "turn_id": 3, "payload": {"role": "robot", "text": "x"}}]})
        assert bad.status_code == 422
        assert any(e["field"] == "events.1.payload.role" for e in bad.json()["errors"])
        unknown = await c.post("/v1/sessions/s1/events", json={"event_type": "nope.happened", "payload": {}})
        assert unknown.status_code == 422 and "event_type" in unknown.text
        truncated = await c.post("/v1/sessions/s1/events", content=b'{"events": [{"event_ty')
        assert truncated.status_code == 422 and "JSON" in truncated.json()["detail"]
        big = await c.post("/v1/sessions/s1/events", json={"events": [turn(9, "x" * 70_000)]})
        assert big.status_code == 413 and "events.0" in big.json()["detail"]
        many = await c.post("/v1/sessions/s1/events", json={"events": [turn(i) for i in range(10, 21)]})
        assert many.status_code == 413
        other_session = await c.post("/v1/sessions/s1/events", json={**turn(5), "session_id": "s2"})
        assert other_session.status_code == 422 and "session_id" in other_session.text
        bad_path = await c.post("/v1/sessions/bad id!/events", json=turn(1))
        assert bad_path.status_code in (404, 422)
        log = (await c.get("/v1/sessions/s1/events")).json()
        assert [e["seq"] for e in log["events"]] == [1]
        assert (await c.get("/health")).status_code == 200


async def test_auth_scopes_and_tenant_isolation(fresh_database, redis_url, start_ingest) -> None:
    """No key → 401, unknown key → 401, missing scope → 403, another tenant's session → 404."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        assert (await c.post("/v1/sessions/s1/events", json=turn(1))).status_code == 401
        assert (await c.post("/v1/sessions/s1/events", json=turn(1),
                             headers={"Authorization": "Bearer nope"})).status_code == 401
        ro = await c.post("/v1/sessions/s1/events", json=turn(1), headers=auth("test-read-only"))
        assert ro.status_code == 403 and "ingest" in ro.json()["detail"]
        assert (await c.post("/v1/sessions/s1/events", json=turn(1), headers=auth())).status_code == 200
        assert (await c.get("/v1/sessions/s1/events", headers=auth("test-other-tenant"))).status_code == 404
        assert (await c.get("/v1/sessions/s1/wal", headers=auth("test-other-tenant"))).status_code == 404
        spoof = await c.post("/v1/sessions/s1/events", json={**turn(2), "tenant_id": "default"},
                             headers=auth("test-other-tenant"))
        assert spoof.status_code == 422 and "tenant_id" in spoof.text
        repair = await c.post("/v1/admin/wal/repair", json={}, headers=auth("test-other-tenant"))
        assert repair.status_code == 403


async def test_relay_publishes_in_order_with_traceparent(fresh_database, bus_url, start_ingest) -> None:
    """Accepted events reach lifeline.events.v1 in seq order carrying the request's trace id,
    on either bus (Kafka: keyed by session id)."""
    ingest = start_ingest(fresh_database, bus_url)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**auth(), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    async with httpx.AsyncClient(base_url=ingest.url, headers=headers) as c:
        for i in range(1, 6):
            r = await c.post("/v1/sessions/s-tr/events", json=turn(i))
            assert r.status_code == 200
            assert r.headers["x-trace-id"] == trace_id
        wal = (await c.get("/v1/sessions/s-tr/wal")).json()

    async def published() -> list:
        records = await read_topic(bus_url, "lifeline.events.v1")
        return records if len(records) >= 5 else []

    records = await eventually(published, what="5 published events")
    seqs = [orjson.loads(r.value)["seq"] for r in records if r.key == "s-tr"]
    assert seqs == [1, 2, 3, 4, 5]
    assert all(trace_id in r.headers["traceparent"] for r in records)
    assert all(trace_id in orjson.loads(r.value)["traceparent"] for r in records)
    assert len(wal["entries"]) == 5


async def test_wal_view_and_repair(fresh_database, redis_url, start_ingest) -> None:
    """The WAL shows published state; repair is a dry run by default and re-publishes on request."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/s1/events", json={"events": [turn(1), turn(2)]})

        async def all_published() -> bool:
            wal = (await c.get("/v1/sessions/s1/wal")).json()
            return all(e["published"] for e in wal["entries"])

        await eventually(all_published, what="both events published")
        dry = (await c.post("/v1/admin/wal/repair", json={"session_id": "s1"})).json()
        assert dry["dry_run"] is True and dry["before"]["unpublished"] == 0 and "requeued" not in dry
        real = (await c.post("/v1/admin/wal/repair",
                             json={"dry_run": False, "session_id": "s1", "from_seq": 2})).json()
        assert real["requeued"] == 1

        async def republished() -> bool:
            records = await read_topic(redis_url, "lifeline.events.v1")
            return [orjson.loads(r.value)["seq"] for r in records] == [1, 2, 2]

        await eventually(republished, what="seq 2 re-published once more")


async def test_ready_and_metrics(fresh_database, redis_url, start_ingest) -> None:
    """/ready reports each dependency; /metrics counts accepted, duplicate and rejected events."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        ready = (await c.get("/ready")).json()
        assert ready["status"] == "ready" and ready["checks"]["database"]["ok"]
        await c.post("/v1/sessions/s1/events", json={"events": [turn(1), turn(1)]})
        await c.post("/v1/sessions/s1/events", json={"events": [{"event_type": "x"}]})
        await asyncio.sleep(0.3)
        metrics = (await c.get("/metrics")).text
        assert 'lifeline_ingest_events_total{outcome="accepted",source="http"} 1.0' in metrics
        assert 'lifeline_ingest_events_total{outcome="duplicate",source="http"} 1.0' in metrics
        assert "lifeline_ingest_relay_lag_seconds" in metrics
        assert "lifeline_ingest_accept_to_published_seconds_bucket" in metrics
        assert (await c.get("/docs")).status_code == 200
