"""replay's HTTP API against real ingest, PostgreSQL and Redis: state, read-your-writes,
time travel, trimming, context windows, checkpoint, auth and bad input."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from lifeline_events import canonical_json, content_hash, fold
from lifeline_replay import keys
from lifeline_testing.appends import append
from lifeline_testing.oracle import log_of
from lifeline_testing.processes import auth
from lifeline_testing.replay_stack import replay_state
from lifeline_testing.waiting import eventually

from .conftest import SNAPSHOT_EVERY
from .helpers import assert_state_matches_log, new_session, post_turns, turns, wait_mode


async def test_state_is_the_fold_of_the_log_and_is_then_served_hot(stack, http) -> None:
    """GET state?min_seq= equals fold(ingest's log) at once, and soon comes from Redis (mode replay)."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 25)
    await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, session, last)
    body = await wait_mode(http, stack.replay.url, session, "replay", last)
    assert body["seq"] == last and body["staleness"]["stale"] is False
    last = await post_turns(http, stack.ingest.url, session, 26, 3)
    body = await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, session, last)
    assert body["seq"] == last


async def test_min_seq_beyond_the_log_times_out_with_a_504_problem(stack, http) -> None:
    """Waiting for a seq nobody wrote ends within the bound with 504 naming both seqs."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 2)
    r = await http.get(f"{stack.replay.url}/v1/sessions/{session}/state",
                       params={"min_seq": last + 5, "timeout_ms": 300}, headers=auth())
    assert r.status_code == 504 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["seq"] == last and r.json()["min_seq"] == last + 5


async def test_read_your_writes_waits_for_a_write_in_flight(stack, http) -> None:
    """A reader waiting on min_seq gets the state as soon as the write lands."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 1)
    waiting = asyncio.create_task(replay_state(http, stack.replay.url, session, min_seq=3))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await post_turns(http, stack.ingest.url, session, 2, 2)
    r = await waiting
    assert r.status_code == 200 and r.json()["seq"] == 3


async def test_hot_stream_is_trimmed_behind_the_latest_snapshot(stack, http) -> None:
    """After 3.5 snapshot intervals the stream holds only the events after the last snapshot,
    and the stored snapshot is the fold of the log up to it, hash included."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 2 * SNAPSHOT_EVERY)
    await wait_mode(http, stack.replay.url, session, "replay", last)
    last = await post_turns(http, stack.ingest.url, session, last + 1, SNAPSHOT_EVERY + 5)
    await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, session, last)
    client = aioredis.from_url(stack.replay.env["LIFELINE_REDIS_URL"])
    try:
        snap_seq = (last // SNAPSHOT_EVERY) * SNAPSHOT_EVERY
        entries = await client.xrange(keys.hot_stream("default", session))
        snapshot = await client.hgetall(keys.snapshot("default", session))
    finally:
        await client.aclose()
    assert [keys.seq_of(i) for i, _ in entries] == list(range(snap_seq + 1, last + 1))
    log = await log_of(stack.ingest.url, session)
    truth = fold([e for e in log if e.seq <= snap_seq])
    assert int(snapshot[b"seq"]) == snap_seq and snapshot[b"state"] == canonical_json(truth)


async def test_time_travel_by_seq_and_by_time_matches_the_fold_of_the_prefix(stack, http) -> None:
    """until_seq and at give fold(log up to there), from snapshots or from the start alike."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 14)
    await asyncio.sleep(0.05)
    last = await post_turns(http, stack.ingest.url, session, 15, 13)
    await wait_mode(http, stack.replay.url, session, "replay", last)
    log = await log_of(stack.ingest.url, session)
    url = f"{stack.replay.url}/v1/sessions/{session}/replay"
    for until in (1, 9, 10, 14, 23, last):
        for snapshots in (True, False):
            r = await http.post(url, json={"until_seq": until, "use_snapshots": snapshots}, headers=auth())
            assert r.status_code == 200, r.text
            assert canonical_json(r.json()["state"]) == canonical_json(fold(log[:until])), (until, snapshots)
    r = await http.post(url, json={"until_seq": 23}, headers=auth())
    assert r.json()["base_seq"] == 20 and r.json()["events_folded"] == 3
    at = log[13].recorded_at.isoformat()
    r = await http.post(url, json={"at": at}, headers=auth())
    assert r.status_code == 200 and r.json()["seq"] == 14
    assert canonical_json(r.json()["state"]) == canonical_json(fold(log[:14]))


async def test_context_window_in_each_provider_format(stack, http) -> None:
    """The context endpoint answers in OpenAI, Anthropic and Gemini shapes within the budget,
    and a retracted fact is absent."""
    session = new_session()
    events = turns(1, 12)
    events.append({"event_type": "turn.recorded", "turn_id": 13, "payload": {
        "role": "assistant", "text": "Noted.", "intent": "booking",
        "acts": [{"op": "confirm_fact", "key": "budget", "value": "4711 EUR"},
                 {"op": "set_objective", "id": "visit", "text": "book the first visit", "priority": 3}]}})
    events.append({"event_type": "turn.recorded", "turn_id": 14, "payload": {
        "role": "user", "text": "Actually, no budget yet.", "intent": "booking",
        "acts": [{"op": "retract_fact", "key": "budget"}]}})
    last = (await append(stack.ingest.url, session, events))[-1]["seq"]
    url = f"{stack.replay.url}/v1/sessions/{session}/context"
    shapes = {"openai": "messages", "anthropic": "messages", "gemini": "contents"}
    for provider, field in shapes.items():
        r = await http.get(url, params={"budget_tokens": 300, "provider": provider, "min_seq": last},
                           headers=auth())
        assert r.status_code == 200, r.text
        window = r.json()
        assert window[field] and window["estimated_tokens"] <= 300 and window["seq"] == last
        assert "4711" not in r.text and "book the first visit" in r.text
    assert r.json()["contents"][-1] == {"role": "user", "parts": [{"text": "Actually, no budget yet."}]}


async def test_checkpoint_reports_the_applied_position(stack, http) -> None:
    """/checkpoint says how far the projection applied the session (0 when unknown)."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 4)
    url = f"{stack.replay.url}/v1/sessions/{session}/checkpoint"

    async def applied() -> bool:
        return (await http.get(url, headers=auth())).json()["last_seq"] == last

    await eventually(applied, what="checkpoint at the last seq")
    r = await http.get(f"{stack.replay.url}/v1/sessions/{new_session()}/checkpoint", headers=auth())
    assert r.json()["last_seq"] == 0


async def test_auth_tenancy_and_bad_input(stack, http) -> None:
    """No key → 401, another tenant's session → 404, naming a tenant without admin → 403,
    bad parameters → 422 naming the field."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 2)
    base = f"{stack.replay.url}/v1/sessions/{session}"
    assert (await http.get(f"{base}/state")).status_code == 401
    other = await http.get(f"{base}/state", headers=auth("test-other-tenant"))
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/problem+json")
    assert (await http.get(f"{base}/context", headers=auth("test-other-tenant"))).status_code == 404
    r = await http.post(f"{base}/replay", json={"until_seq": 1}, headers=auth("test-other-tenant"))
    assert r.status_code == 404
    r = await http.get(f"{base}/state", params={"tenant_id": "default"}, headers=auth("test-other-tenant"))
    assert r.status_code == 403
    assert (await http.get(f"{base}/state", headers=auth("test-read-only"))).status_code == 200
    bad = {
        f"{base}/context?provider=llama": "provider",
        f"{base}/context?budget_tokens=0": "budget_tokens",
        f"{base}/state?min_seq=-1": "min_seq",
    }
    for url, field in bad.items():
        r = await http.get(url, headers=auth())
        assert r.status_code == 422 and field in r.json()["detail"], (url, r.text)
    for body in ({}, {"until_seq": 2, "at": "2025-01-01T00:00:00Z"}, {"until_seq": 0}):
        r = await http.post(f"{base}/replay", json=body, headers=auth())
        assert r.status_code == 422, (body, r.text)
    r = await http.post(f"{base}/replay", json={"until_seq": 0}, headers=auth())
    assert "until_seq" in r.json()["detail"]


async def test_restored_session_converges_to_the_restored_state(stack, http) -> None:
    """A session.restored event (an earlier state with its hash) is folded like the oracle does."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 6)
    earlier = fold((await log_of(stack.ingest.url, session))[:3]).model_dump(mode="json")
    restore = {"event_type": "session.restored",
               "payload": {"snapshot_id": "snap-3", "content_hash": content_hash(earlier), "state": earlier}}
    last = (await append(stack.ingest.url, session, [restore, *turns(7, 2)]))[-1]["seq"]
    body = await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, session, last)
    assert body["state"]["restored_from"] == "snap-3"
    await wait_mode(http, stack.replay.url, session, "replay", last)
    body = await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, session, last)


async def test_ready_reports_every_dependency(stack, http) -> None:
    """/ready is 200 with database, redis, bus (subscriber running) and ingest checks, and
    /metrics has the recovery, WebSocket and consumer-lag series."""
    r = await http.get(f"{stack.replay.url}/ready")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert {"database", "redis", "bus", "ingest"} <= set(checks) and checks["database"]["critical"]
    assert not checks["redis"]["critical"] and not checks["bus"]["critical"]
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 1)
    await wait_mode(http, stack.replay.url, session, "replay", last)
    metrics = (await http.get(f"{stack.replay.url}/metrics")).text
    assert "lifeline_replay_recovery_seconds_bucket" in metrics
    assert "lifeline_replay_ws_connections" in metrics
    assert "# TYPE lifeline_bus_consumer_lag_messages gauge" in metrics
    assert 'lifeline_bus_consumed_total{group="replay",topic="lifeline.events.v1"}' in metrics
