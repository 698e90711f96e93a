"""One W3C trace follows an event end to end: HTTP → ingest's log → bus → every consumer → trace."""

from __future__ import annotations

import json
import secrets

import httpx

from lifeline_events import TOPIC_EVENTS
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.otlp_receiver import OtlpReceiver, ReceivedSpan
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.topics import read_topic
from lifeline_testing.tracestore import service_env, services, wait_session_traces
from lifeline_testing.waiting import eventually


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_a_traceparent_is_followed_from_request_to_stored_trace(fresh_database, bus_url, redis_url,
                                                                     tmp_path) -> None:
    """The request's trace id is in ingest's JSON log, the bus headers, the stored trace and the
    CONSUMER spans of every service that consumed the event (trace-store, replay, snapshot)."""
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with OtlpReceiver() as otlp, services(tmp_path) as procs:
        ingest = procs.ingest(fresh_database, bus_url, extra=otlp.env())
        store = procs.tracestore(fresh_database, bus_url, ingest=ingest, extra=otlp.env())
        peers = {"LIFELINE_INGEST_URL": ingest.url, "LIFELINE_SERVICE_API_KEY": TEST_API_KEY,
                 "LIFELINE_REDIS_URL": redis_url, **otlp.env()}
        for module in ("lifeline_replay", "lifeline_snapshot"):
            procs.start(module, service_env(fresh_database, bus_url), extra=peers)
        await append(ingest.url, "s-obs", [turn(1, person_id="p-obs"), turn(2, person_id="p-obs")],
                          headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
        traces = await wait_session_traces(store.url, "p-obs", "s-obs", 2)

        logged = [line for line in _json_lines(ingest.log_path.read_text())
                  if line.get("event") == "events.appended" and line.get("trace_id") == trace_id]
        assert logged and logged[0]["service"] == "ingest" and logged[0]["session_id"] == "s-obs"

        on_bus = [r for r in await read_topic(bus_url, TOPIC_EVENTS) if r.key == "s-obs"]
        headers = {r.headers["traceparent"] for r in on_bus}
        assert len(headers) == 1 and headers.pop().split("-")[1] == trace_id
        message_span = on_bus[0].headers["traceparent"].split("-")[2]

        assert {t["otel_trace_id"] for t in traces} == {trace_id}
        async with httpx.AsyncClient(base_url=store.url, headers=auth()) as c:
            by_otel = (await c.get(f"/v1/traces/by-otel/{trace_id}")).json()
        assert [e["seq"] for e in by_otel["events"]] == [1, 2]
        assert by_otel["services"] == ["ingest", "trace-store"]

        stored = {t["trace_id"] for t in traces}

        async def spans() -> list[ReceivedSpan] | None:
            got = otlp.of_trace(trace_id)
            consumed = [s for s in got if s.kind == "SPAN_KIND_CONSUMER"]
            # every stored trace handled under trace-store's own spans (the others come on top)
            handled = {e for s in consumed if s.service == "tracestore"
                       for e in s.attributes["lifeline.event_ids"]}
            served = any(s.service == "ingest" and s.kind == "SPAN_KIND_SERVER" for s in got)
            consumers = {s.service for s in consumed}
            return got if served and stored <= handled and {"replay", "snapshot"} <= consumers else None

        got = await eventually(spans, timeout=30,
                               what="spans of ingest, trace-store, replay and snapshot at the OTLP receiver")
    server = next(s for s in got if s.service == "ingest" and s.kind == "SPAN_KIND_SERVER")
    assert server.parent_span_id == caller_span
    consumer = next(s for s in got if s.service == "tracestore" and s.kind == "SPAN_KIND_CONSUMER")
    assert consumer.parent_span_id == message_span
    assert any(s.span_id == message_span and s.service == "ingest" for s in got)
    assert consumer.attributes["messaging.destination.name"] == TOPIC_EVENTS
    assert consumer.attributes["messaging.consumer.group.name"] == "tracestore"
    for service in ("replay", "snapshot"):
        theirs = [s for s in got if s.service == service and s.kind == "SPAN_KIND_CONSUMER"]
        assert theirs and all(s.parent_span_id == message_span for s in theirs), service
        assert theirs[0].attributes["messaging.consumer.group.name"] == service
