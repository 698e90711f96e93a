"""The WebSocket: RECOVERY_SYNC first, then live events; reconnects lose and repeat nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth

from .conftest import SNAPSHOT_EVERY
from .helpers import new_session, open_ws, post_turns, recv, recv_events_until, wait_mode


async def test_sync_then_live_then_reconnect_with_last_seq_without_gap_or_duplicate(stack, http) -> None:
    """A client gets RECOVERY_SYNC, then live events; after dropping mid-stream and reconnecting
    with last_seq it gets exactly the events it missed, then live ones again."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 5)
    received: list[int] = []
    async with open_ws(stack.replay.url, session) as ws:
        sync = await recv(ws)
        assert sync["type"] == "RECOVERY_SYNC" and sync["mode"] in ("replay", "log")
        assert {"stage", "confirmed_facts", "summary", "objectives", "pins", "staleness"} <= set(sync)
        cursor = sync["seq"]
        target = await post_turns(http, stack.ingest.url, session, 6, 8)
        received += await recv_events_until(ws, target)
        assert received == list(range(cursor + 1, target + 1))
    # gone mid-stream: writes continue (crossing a snapshot, so the stream gets trimmed)
    last = await post_turns(http, stack.ingest.url, session, 14, 2 * SNAPSHOT_EVERY)
    async with open_ws(stack.replay.url, session, f"last_seq={received[-1]}") as ws:
        sync = await recv(ws)
        assert sync["type"] == "RECOVERY_SYNC"
        missed = await recv_events_until(ws, last)
        assert missed == list(range(received[-1] + 1, last + 1))
        more = await post_turns(http, stack.ingest.url, session, 14 + 2 * SNAPSHOT_EVERY, 3)
        assert await recv_events_until(ws, more) == list(range(last + 1, more + 1))


async def test_sync_seq_and_first_live_event_line_up_under_concurrent_writes(stack, http) -> None:
    """While a writer appends continuously, every new connection's first event is sync.seq + 1."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 1)
    stop = asyncio.Event()

    async def writer() -> None:
        turn_id = 2
        while not stop.is_set():
            await post_turns(http, stack.ingest.url, session, turn_id, 1)
            turn_id += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(writer())
    try:
        for _ in range(8):
            async with open_ws(stack.replay.url, session) as ws:
                sync = await recv(ws)
                seqs = [(await recv(ws))["seq"] for _ in range(3)]
                assert seqs == [sync["seq"] + 1, sync["seq"] + 2, sync["seq"] + 3]
    finally:
        stop.set()
        await task


async def test_reconnect_from_before_the_trimmed_stream_is_filled_from_the_log(stack, http) -> None:
    """last_seq older than the latest snapshot: the trimmed part comes from ingest's log, in order."""
    session = new_session()
    last = await post_turns(http, stack.ingest.url, session, 1, 3 * SNAPSHOT_EVERY + 4)
    await wait_mode(http, stack.replay.url, session, "replay", last)
    async with open_ws(stack.replay.url, session, "last_seq=2") as ws:
        assert (await recv(ws))["seq"] == last
        assert await recv_events_until(ws, last) == list(range(3, last + 1))


async def test_browser_auth_forms_are_accepted(stack, http) -> None:
    """A `bearer.<key>` subprotocol (answered with lifeline.v1) and ?api_key= both authenticate,
    and the key never reaches the log."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 2)
    async with open_ws(stack.replay.url, session, key=None,
                       subprotocols=["lifeline.v1", f"bearer.{TEST_API_KEY}"]) as ws:
        assert ws.subprotocol == "lifeline.v1"
        assert (await recv(ws))["type"] == "RECOVERY_SYNC"
    async with open_ws(stack.replay.url, session, f"api_key={TEST_API_KEY}", key=None) as ws:
        sync = await recv(ws)
        assert sync["type"] == "RECOVERY_SYNC"
        if sync["seq"] < 2:  # the projection may not have applied the last write yet
            assert await recv_events_until(ws, 2) == list(range(sync["seq"] + 1, 3))
    assert f"api_key={TEST_API_KEY}" not in stack.replay.log_path.read_text(errors="replace")


@pytest.mark.parametrize(("key", "query", "code"), [
    (None, "", 4401), ("wrong-key", "", 4401), ("test-other-tenant", "", 4404),
    (TEST_API_KEY, "last_seq=abc", 4400)])
async def test_refusals_close_with_a_reason(stack, http, key, query, code) -> None:
    """No or unknown key, another tenant's session, a bad last_seq: an ERROR message, then a close code."""
    session = new_session()
    await post_turns(http, stack.ingest.url, session, 1, 1)
    async with open_ws(stack.replay.url, session, query, key=key) as ws:
        error = await recv(ws)
        assert error["type"] == "ERROR"
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_a_second_replica_streams_what_either_replica_projects(stack, http, tmp_path) -> None:
    """Two replay replicas share the consumer group and Redis: a client on either gets every
    event exactly once, in order, whichever replica applied it."""
    second = ServiceProcess("lifeline_replay", dict(stack.replay.env), log_dir=tmp_path)
    await asyncio.to_thread(second.start)
    try:
        session = new_session("replicas")
        await post_turns(http, stack.ingest.url, session, 1, 1)
        async with open_ws(second.url, session) as on_second, open_ws(stack.replay.url, session) as on_first:
            syncs = [await recv(on_second), await recv(on_first)]
            last = 1
            for first in range(2, 42, 8):  # several batches, so both replicas get some to apply
                last = await post_turns(http, stack.ingest.url, session, first, 8)
            for ws, sync in zip((on_second, on_first), syncs, strict=True):
                assert await recv_events_until(ws, last) == list(range(sync["seq"] + 1, last + 1))
    finally:
        second.kill()


async def test_three_players_and_a_dm_see_joins_and_a_lock_live(stack, http) -> None:
    """The DM opens the room; four WebSocket clients (the DM, three players) get it in their
    RECOVERY_SYNC, then each sees every player's join and the lock as live events in seq order."""
    session = new_session("room")
    people = ["dm", "p1", "p2", "p3"]

    async def post(path: str, body: dict[str, object]) -> dict[str, Any]:
        r = await http.post(f"{stack.ingest.url}/v1/sessions/{session}/{path}", headers=auth(), json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    await post("participants", {"participant_id": "dm", "role": "owner"})
    clients = [open_ws(stack.replay.url, session) for _ in people]
    sockets = [await c.__aenter__() for c in clients]
    try:
        for ws in sockets:
            sync = await recv(ws)
            assert sync["type"] == "RECOVERY_SYNC" and list(sync["room"]["participants"]) == ["dm"]
        for pid in people[1:]:
            await post("participants", {"participant_id": pid, "role": "editor"})
        lock = await post("locks", {"scope": "fact:hp", "participant_id": "p1"})
        assert lock["token"] == 1
        for ws in sockets:
            seen = [await recv(ws) for _ in range(lock["seq"] - sync["seq"])]
            assert [m["seq"] for m in seen] == list(range(sync["seq"] + 1, lock["seq"] + 1))
            assert [(m["event"]["event_type"], m["event"]["payload"]["participant_id"]) for m in seen] == [
                *(("participant.joined", pid) for pid in people[1:]), ("lock.acquired", "p1")]
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)
    async with open_ws(stack.replay.url, session) as ws:
        sync = await recv(ws)
        assert sync["seq"] == lock["seq"] and set(sync["room"]["participants"]) == set(people)
        assert sync["room"]["locks"]["fact:hp"]["participant_id"] == "p1"


async def test_a_dm_and_three_players_see_conflicts_under_each_strategy_and_their_resolution_live(
        stack, http) -> None:
    """Four WebSocket clients (a DM, three players) see the same live log while two players
    race on fact hp under each strategy: the merged turn (latest_wins), nothing for a refused
    one (automatic_merge), the turn without the lower-ranked act and its flag (provider_priority),
    the parked conflict and its resolution (user_choice by its writer, manual_merge by the DM);
    a new client's RECOVERY_SYNC has no open conflict left and the session's policy."""
    session = new_session("conflicts")
    people = ["dm", "p1", "p2", "p3"]

    async def call(method: str, path: str, body: dict[str, Any], ok: int = 200) -> dict[str, Any]:
        r = await http.request(method, f"{stack.ingest.url}/v1/sessions/{session}/{path}", headers=auth(),
                               json=body)
        assert r.status_code == ok, r.text
        return dict(r.json())

    async def last_seq() -> int:
        r = await http.get(f"{stack.ingest.url}/v1/sessions/{session}", headers=auth())
        return int(r.json()["last_seq"])

    def hp(turn_id: int, who: str, value: int) -> dict[str, Any]:
        return {"event_type": "turn.recorded", "turn_id": turn_id, "person_id": who,
                "payload": {"role": "user", "text": f"{who}: hp {value}",
                            "acts": [{"op": "confirm_fact", "key": "hp", "value": value}]}}

    for pid in people:
        role = "owner" if pid == "dm" else "editor"
        await call("POST", "participants", {"participant_id": pid, "role": role, "actor": "dm"})
    await call("PUT", "policy", {"provider_priority": ["owner", "p2"], "participant_id": "dm"})
    clients = [open_ws(stack.replay.url, session) for _ in people]
    sockets = [await c.__aenter__() for c in clients]
    try:
        start = [(await recv(ws))["seq"] for ws in sockets]
        turn_ids, before = iter(range(1, 100)), await last_seq()
        strategies = ("latest_wins", "automatic_merge", "provider_priority", "user_choice", "manual_merge")
        for strategy in strategies:
            base = await last_seq()
            await call("POST", "events", {"events": [hp(next(turn_ids), "p2", 1)], "expected_seq": base})
            stale = {"events": [hp(next(turn_ids), "p1", 2)], "expected_seq": base, "on_conflict": strategy}
            refused = strategy in ("automatic_merge", "user_choice", "manual_merge")
            answer = await call("POST", "events", stale, ok=409 if refused else 200)
            if strategy == "user_choice":
                await call("POST", f"conflicts/{answer['conflict_id']}/resolve", {"choice": "ours"})
            if strategy == "manual_merge":
                await call("POST", f"conflicts/{answer['conflict_id']}/resolve",
                           {"choice": "merged", "participant_id": "dm",
                            "acts": [{"op": "confirm_fact", "key": "hp", "value": 3}]})
        last = await last_seq()
        seen = []
        for ws, first in zip(sockets, start, strict=True):
            messages = []
            while not messages or messages[-1]["seq"] < last:
                messages.append(await recv(ws))
            assert [m["seq"] for m in messages] == list(range(first + 1, last + 1))
            seen.append([m["event"]["event_type"] for m in messages if m["seq"] > before])
        assert all(s == seen[0] for s in seen)
        assert seen[0] == [
            "turn.recorded", "turn.recorded",                                     # latest_wins
            "turn.recorded",                                                      # automatic_merge
            "turn.recorded", "turn.recorded",                                     # provider_priority
            "turn.recorded", "session.conflict.opened", "session.conflict.resolved", "turn.recorded",
            "turn.recorded", "session.conflict.opened", "session.conflict.resolved"]
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)
    async with open_ws(stack.replay.url, session) as ws:
        sync = await recv(ws)
        assert sync["seq"] == last and sync["room"]["open_conflicts"] == []
        assert sync["room"]["policy"]["provider_priority"] == ["owner", "p2"]
        assert sync["confirmed_facts"]["hp"] == 3
