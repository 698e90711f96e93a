"""Every event on the bus becomes exactly one trace, with the fold's context after it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson

from lifeline_events import TOPIC_EVENTS, TOPIC_LIFECYCLE, Event, canonical_json, fold
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.topics import produce_raw, read_topic
from lifeline_testing.tracestore import wait_session_traces
from lifeline_testing.waiting import eventually

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _acts_turns(n: int) -> list[dict]:
    events = [{"event_type": "session.started", "person_id": "p-7", "payload": {}}]
    for i in range(1, n + 1):
        acts = [{"op": "set_stage", "stage": f"stage-{i}"},
                {"op": "confirm_fact", "key": f"k{i}", "value": i}]
        events.append(turn(i, f"turn {i} about veneers", role="assistant" if i % 2 else "user",
                           person_id="p-7", acts=acts if i % 2 else []))
    return events


async def _log(ingest_url: str, session: str) -> list[Event]:
    async with httpx.AsyncClient(base_url=ingest_url, headers=auth()) as c:
        body = (await c.get(f"/v1/sessions/{session}/events", params={"limit": 1000})).json()
    return [Event.from_json(e) for e in body["events"]]


async def _count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM traces.event_traces"))
    finally:
        await conn.close()


async def test_each_event_stored_once_with_the_folds_context(fresh_database, bus_url, procs) -> None:
    """A trace per event with person, session, otel id and the fold's state after it; redelivery adds none."""
    ingest = procs.ingest(fresh_database, bus_url)
    store = procs.tracestore(fresh_database, bus_url, ingest=ingest)
    await append(ingest.url, "s-1", _acts_turns(6)[:4], headers={"traceparent": TRACEPARENT})
    await append(ingest.url, "s-1", _acts_turns(6)[4:])
    await append(ingest.url, "s-2", _acts_turns(2))
    traces = await wait_session_traces(store.url, "p-7", "s-1", 7)
    log = await _log(ingest.url, "s-1")
    assert [t["trace_id"] for t in traces] == [str(e.event_id) for e in log]
    for i, trace in enumerate(traces):
        expected = orjson.loads(canonical_json(fold(log[: i + 1])))
        assert trace["context_snapshot"] == expected, f"context after seq {i + 1}"
        assert trace["event_data"]["seq"] == i + 1 and trace["event_type"] == log[i].event_type
        assert (trace["person_id"], trace["session_id"]) == ("p-7", "s-1")
    assert {t["otel_trace_id"] for t in traces[:4]} == {TRACEPARENT.split("-")[1]}
    assert traces[5]["otel_trace_id"] not in (None, TRACEPARENT.split("-")[1])
    await wait_session_traces(store.url, "p-7", "s-2", 3)
    # Redelivery: the same records again, as a relay re-publishing after a crash would.
    again = [(r.key, r.value) for r in await read_topic(bus_url, TOPIC_EVENTS)]
    await produce_raw(bus_url, TOPIC_EVENTS, again)
    marker = await append(ingest.url, "s-3", [turn(1, person_id="p-8")])
    await wait_session_traces(store.url, "p-8", "s-3", 1)
    assert marker[0]["seq"] == 1
    assert await _count(fresh_database) == 11


async def test_lifecycle_event_gets_latest_context_and_is_stored_once(fresh_database, redis_url,
                                                                      procs) -> None:
    """A lifecycle announcement is stored once (even redelivered) with its session's latest context."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-1", _acts_turns(3))
    traces = await wait_session_traces(store.url, "p-7", "s-1", 4)
    now = datetime.now(UTC).isoformat()
    announcement = {"event_id": str(uuid.uuid4()), "event_type": "snapshot.created", "tenant_id": "default",
                    "session_id": "s-1", "seq": 4, "occurred_at": now, "recorded_at": now,
                    "payload": {"snapshot_id": "snap-1", "at_seq": 4, "content_hash": "0" * 64}}
    body = orjson.dumps(announcement)
    await produce_raw(redis_url, TOPIC_LIFECYCLE, [("s-1", body), ("s-1", body), ("s-1", b"not json")])
    got = await wait_session_traces(store.url, "p-7", "s-1", 5)
    lifecycle = [t for t in got if t["trace_id"] == announcement["event_id"]]
    assert len(lifecycle) == 1
    assert lifecycle[0]["context_snapshot"] == traces[-1]["context_snapshot"]
    assert lifecycle[0]["person_id"] == "p-7"
    dlq = await eventually(lambda: _dlq(redis_url), what="the garbage lifecycle record on the DLQ")
    assert dlq[0].value == b"not json" and "not a valid event" in dlq[0].headers["reason"]
    assert await _count(fresh_database) == 5


async def _dlq(bus_url: str) -> list:
    return [r for r in await read_topic(bus_url, "lifeline.dlq.v1")
            if r.headers.get("source_topic") == TOPIC_LIFECYCLE]


async def test_a_gap_on_the_bus_is_healed_from_ingests_log(fresh_database, redis_url, procs) -> None:
    """An event ahead of the checkpoint makes trace-store read the missing seqs from ingest, in order."""
    ingest = procs.ingest(fresh_database, redis_url, relay_enabled="false")
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-gap", _acts_turns(3))
    log = await _log(ingest.url, "s-gap")
    await produce_raw(redis_url, TOPIC_EVENTS, [("s-gap", log[-1].to_json_bytes())])
    traces = await wait_session_traces(store.url, "p-7", "s-gap", 4)
    assert [t["event_data"]["seq"] for t in traces] == [1, 2, 3, 4]
    assert traces[-1]["context_snapshot"] == orjson.loads(canonical_json(fold(log)))
    async with httpx.AsyncClient(base_url=store.url) as c:
        metrics = (await c.get("/metrics")).text
    assert 'lifeline_projection_healed_total{projection="tracestore"} 3.0' in metrics


async def _stored_json_text(database_url: str, session: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT event_data::text AS d, context_snapshot::text AS c "
                                "FROM traces.event_traces WHERE session_id = $1 ORDER BY seq", session)
    finally:
        await conn.close()
    return [(r["d"], r["c"]) for r in rows]


async def test_a_trace_stores_the_delivered_bytes_and_the_canonical_context(fresh_database, redis_url,
                                                                            procs) -> None:
    """event_data is the event's JSON byte for byte as delivered (the json column keeps its text:
    key order, spacing, escapes), context_snapshot the fold's canonical JSON."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-b", [turn(1, "café — ok", person_id="p-b")])
    await wait_session_traces(store.url, "p-b", "s-b", 1)
    relayed = [r.value for r in await read_topic(redis_url, TOPIC_EVENTS)]
    assert [d for d, _ in await _stored_json_text(fresh_database, "s-b")] == [v.decode() for v in relayed]
    # A producer's own formatting, which jsonb would have re-spaced, re-ordered and unescaped.
    doc = {**orjson.loads(relayed[0]), "session_id": "s-own", "event_id": str(uuid.uuid4())}
    body = json.dumps(dict(reversed(doc.items())), indent=1, ensure_ascii=True).encode()
    await produce_raw(redis_url, TOPIC_EVENTS, [("s-own", body)])
    await wait_session_traces(store.url, "p-b", "s-own", 1)
    [(data, context)] = await _stored_json_text(fresh_database, "s-own")
    assert data.encode() == body and "\\u00e9" in data
    assert context.encode() == canonical_json(fold([Event.from_json(body)]))
