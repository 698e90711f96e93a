"""The append route's trace and refusals, on a real ingest process (PostgreSQL, Redis).

The route reads its adapters without a FastAPI dependency (for CPU per request): these
pin what must not change with that — the server span and `ingest.log.append` with their attributes,
linked, their context carried by the logged event; and the 401/403/422 answers, in their order.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lifeline_testing.builders import turn
from lifeline_testing.processes import ServiceProcess, auth
from lifeline_testing.waiting import eventually

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _spans(ingest: ServiceProcess) -> list[dict[str, Any]]:
    """The spans the console exporter wrote to the process's log (indented JSON objects)."""
    text = ingest.log_path.read_text(errors="replace")
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := text.find('{\n    "name": ', at)) >= 0:
        span, end = decoder.raw_decode(text, at)
        spans.append(span)
        at = end
    return spans


async def test_an_append_emits_the_server_span_and_the_log_span_linked(
        fresh_database, redis_url, start_ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    """One POST: a SERVER span continued from the caller's traceparent, with the status;
    inside it `ingest.log.append` with the session and the event count; the logged event
    carries the append span's context (what the relay puts on the bus)."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # export within the test, not in 5 s
    ingest = start_ingest(fresh_database, redis_url, otel_exporter="console")
    headers = {**auth(), "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    async with httpx.AsyncClient(base_url=ingest.url, headers=headers) as c:
        r = await c.post("/v1/sessions/s-span/events", json={"events": [turn(1), turn(2)]})
        assert r.status_code == 200 and r.headers["x-trace-id"] == TRACE_ID
        logged = (await c.get("/v1/sessions/s-span/events")).json()["events"]

    async def both() -> list[dict[str, Any]]:
        spans = [s for s in _spans(ingest) if s["name"] in ("POST /v1/sessions/s-span/events",
                                                            "ingest.log.append")]
        return spans if len(spans) == 2 else []

    spans = {s["name"]: s for s in await eventually(both, what="both spans exported")}
    server, append = spans["POST /v1/sessions/s-span/events"], spans["ingest.log.append"]
    assert server["kind"] == "SpanKind.SERVER" and append["kind"] == "SpanKind.INTERNAL"
    assert server["context"]["trace_id"] == append["context"]["trace_id"] == f"0x{TRACE_ID}"
    assert server["parent_id"] == f"0x{CALLER_SPAN}"
    assert append["parent_id"] == server["context"]["span_id"]
    assert server["attributes"] == {"http.status_code": 200}
    assert append["attributes"] == {"lifeline.session_id": "s-span", "lifeline.events": 2}
    assert server["status"]["status_code"] == append["status"]["status_code"] == "UNSET"
    assert server["start_time"] <= append["start_time"] <= append["end_time"] <= server["end_time"]
    append_span = append["context"]["span_id"].removeprefix("0x")
    assert [e["traceparent"] for e in logged] == [f"00-{TRACE_ID}-{append_span}-01"] * 2


async def test_append_refusals_keep_their_answers_and_their_order(
        fresh_database, redis_url, start_ingest) -> None:
    """No key, an unknown key: 401; a key without `ingest`: 403 — each before the session id
    or the body is looked at; a valid key with a malformed session id: 422."""
    ingest = start_ingest(fresh_database, redis_url)
    bad_id = "/v1/sessions/no%20spaces/events"
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        for path in ("/v1/sessions/s1/events", bad_id):
            missing = await c.post(path, content=b"not json")
            assert missing.status_code == 401
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json() == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                      "detail": "missing API key: send Authorization: Bearer <key>"}
            unknown = await c.post(path, content=b"not json", headers={"Authorization": "Bearer nope"})
            assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown API key"
            reader = await c.post(path, content=b"not json", headers=auth("test-read-only"))
            assert reader.status_code == 403
            assert reader.json() == {"type": "about:blank", "title": "Forbidden", "status": 403,
                                     "detail": "this API key lacks the 'ingest' scope"}
        invalid = await c.post(bad_id, json=turn(1), headers=auth())
        assert invalid.status_code == 422 and "session_id" in invalid.text
        assert (await c.post("/v1/sessions/s1/events", json=turn(1), headers=auth())).status_code == 200
