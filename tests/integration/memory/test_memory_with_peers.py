"""memory with its real peers: replay's context, snapshot's export and trace-store, one trace id."""

from __future__ import annotations

import httpx

from lifeline_testing.appends import append
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.waiting import eventually

from .helpers import coach_session, get, start_memory, turn

TRACEPARENT = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_bias_reaches_replay_export_and_traces(fresh_database, redis_url, procs,
                                                     disposable_server) -> None:
    """Two sessions → the third session's context carries the long-term focus; snapshot's export
    carries the profile with the e-mail fact redacted; trace-store holds profile.consolidated
    under the trace id of the request that finished the session; with replay's Redis and ingest
    both down, cold recovery carries memory's bias as `profile`."""
    hot = disposable_server("redis")
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    peers = {"LIFELINE_MEMORY_URL": memory.url, "LIFELINE_SERVICE_API_KEY": TEST_API_KEY}
    common = {"LIFELINE_DATABASE_URL": fresh_database, "LIFELINE_BUS_URL": redis_url,
              "LIFELINE_REDIS_URL": redis_url, "LIFELINE_INGEST_URL": ingest.url, **peers}
    replay = procs.start("lifeline_replay", {**common, "LIFELINE_REDIS_URL": hot.url.rstrip("/") + "/0"})
    snapshot = procs.start("lifeline_snapshot", common)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "e-1", coach_session("p-e", 0, ["price_missed", "price_missed"],
                                                   contact="jane@example.com"))
    await append(ingest.url, "e-2", coach_session("p-e", 2, ["price_missed"]),
                 headers={"traceparent": TRACEPARENT})
    profile = (await get(memory.url, "/v1/persons/p-e/profile", after_session="e-2")).json()
    assert profile["top_errors"] == ["price_missed"]
    await append(ingest.url, "e-3", [turn(1, "p-e", 4, intent="pricing", text="hi again")])
    async with httpx.AsyncClient(headers=auth(), timeout=30) as c:
        r = await c.get(f"{replay.url}/v1/sessions/e-3/context", params={"min_seq": 1, "intent": "pricing"})
        assert r.status_code == 200, r.text
        text = r.text
        assert "Long-term focus for this person:" in text and "price missed" in text

        async def exported() -> dict | None:
            e = await c.get(f"{snapshot.url}/v1/sessions/e-3/export")
            return e.json() if e.status_code == 200 and e.json().get("profile") else None

        bundle = await eventually(exported, timeout=20, what="an export with the profile")
        facts = {f["key"]: f["value"] for f in bundle["profile"]["facts"]}
        assert "jane@example.com" not in str(bundle["profile"])
        assert "redacted" in str(facts["preferred_contact"])

        trace_id = TRACEPARENT.split("-")[1]

        async def traced() -> list | None:
            t = await c.get(f"{store.url}/v1/traces/by-otel/{trace_id}")
            events = t.json()["events"] if t.status_code == 200 else []
            return events if any(e["event_type"] == "profile.consolidated" for e in events) else None

        events = await eventually(traced, timeout=20, what="profile.consolidated in trace-store")
        assert any(e["event_type"] == "session.finished" and e["session_id"] == "e-2" for e in events)

        bias = (await get(memory.url, "/v1/persons/p-e/bias")).json()
        await hot.akill()
        ingest.kill()

        async def cold() -> dict | None:
            state = await c.get(f"{replay.url}/v1/sessions/e-3/state")
            return state.json() if state.status_code == 200 and state.json()["mode"] == "cold" else None

        body = await eventually(cold, timeout=30, what="cold recovery of e-3")
        assert body["profile"]["focus"] == bias["focus"] and body["profile"]["person_id"] == "p-e"
