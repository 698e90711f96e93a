"""Nothing unredacted reaches trace-store: events, contexts and running states are redacted
on the way in, with the export's placeholders, counted per kind."""

from __future__ import annotations

import asyncpg
import httpx

from lifeline_store.compression import decompress
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.tracestore import wait_session_traces

SECRET_TEXT = "mail me at jane.doe@example.com, key sk-abcdefghijklmnopqrstuvwx"


async def _stored_text(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT event_data::text AS d, coalesce(context_snapshot::text, '') AS c "
                                "FROM traces.event_traces")
        states = await conn.fetch("SELECT state::text AS s, state_blob, compression FROM traces.sessions")
    finally:
        await conn.close()
    # a state is stored compressed (zstd) or as json: its text either way
    texts = [s["s"] or decompress(s["state_blob"], s["compression"]).decode() for s in states]
    return " ".join([r["d"] + r["c"] for r in rows] + texts)


async def test_events_and_contexts_are_stored_redacted(fresh_database, redis_url, procs) -> None:
    """An e-mail and an API key in a turn and in a confirmed fact never reach the tables."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-r", [
        turn(1, SECRET_TEXT, person_id="p-r"),
        turn(2, "noted", person_id="p-r", role="assistant",
             acts=[{"op": "confirm_fact", "key": "email", "value": "jane.doe@example.com"}])])
    traces = await wait_session_traces(store.url, "p-r", "s-r", 2)
    stored = await _stored_text(fresh_database)
    assert "jane.doe@example.com" not in stored and "sk-abcdefghijklmnop" not in stored
    assert "[redacted:email]" in stored and "[redacted:api_key]" in stored
    assert "[redacted:email]" in str(traces[1]["context_snapshot"])
    async with httpx.AsyncClient(base_url=store.url, headers=auth()) as c:
        metrics = (await c.get("/metrics")).text
    assert 'lifeline_tracestore_redactions_total{kind="email"} 0.0' not in metrics


async def test_a_replayed_context_is_the_stored_one_and_stays_redacted_when_rebuilt_from_ingest(
        fresh_database, redis_url, procs) -> None:
    """Events are redacted before the fold, so re-folding the stored events gives the stored
    context exactly; with a stored event gone the context is rebuilt from ingest's (raw) log,
    and what trace-store answers is still redacted."""
    ingest = procs.ingest(fresh_database, redis_url)
    store = procs.tracestore(fresh_database, redis_url, ingest=ingest)
    await append(ingest.url, "s-q", [
        turn(1, SECRET_TEXT, person_id="p-q"),
        turn(2, "noted. Call +44 20 7946 0958 tomorrow.", person_id="p-q", role="assistant",
             acts=[{"op": "confirm_fact", "key": "email", "value": "jane.doe@example.com"}])])
    first, second = await wait_session_traces(store.url, "p-q", "s-q", 2)
    async with httpx.AsyncClient(base_url=store.url, headers=auth(), timeout=10) as c:
        stored = await c.post(f"/replay/{second['trace_id']}", json={"include_context": True})
        assert stored.status_code == 200, stored.text
        assert stored.json()["replay_result"]["context_state"] == second["context_snapshot"]
        assert (await c.delete(f"/replay/{first['trace_id']}")).status_code == 200
        rebuilt = await c.post(f"/replay/{second['trace_id']}", json={"include_context": True})
    assert rebuilt.status_code == 200, rebuilt.text
    result = rebuilt.json()["replay_result"]
    assert result["is_replay"] is True and result["context_state"]["seq"] == 2
    assert "jane.doe@example.com" not in rebuilt.text and "7946 0958" not in rebuilt.text
    assert result["context_state"] == second["context_snapshot"]
