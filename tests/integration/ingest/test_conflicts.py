"""The five conflict strategies on a real ingest process (docs/architecture.md, "Conflict strategies")."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson
import pytest

from lifeline_events import parse_new_event
from lifeline_ingest.app import MIGRATIONS
from lifeline_ingest.committer import AppendRequest, GroupCommitter
from lifeline_ingest.errors import AppendRejectedError
from lifeline_servers import RunningServer
from lifeline_store import apply_migrations, create_pool
from lifeline_testing.builders import turn
from lifeline_testing.processes import TEST_KEYS, ServiceProcess, auth
from lifeline_testing.replay_stack import ingest_process

WRITER_KEY = "test-conflicts-writer"
KEYS = orjson.dumps({**TEST_KEYS, WRITER_KEY: {"tenant": "default", "scopes": ["ingest", "read"]}}).decode()
STRATEGIES = ["reject", "latest_wins", "automatic_merge", "provider_priority", "user_choice", "manual_merge"]


@pytest.fixture(scope="module")
def ingest(module_database: str, redis_server: RunningServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One ingest for the flows below (each uses its own sessions): a 12-event merge window and a
    key with the ingest scope but not admin."""
    if redis_server.controllable and not redis_server.is_running():
        redis_server.restart()
    bus = urlunsplit(urlsplit(redis_server.url)._replace(path="/9"))
    proc = ingest_process(module_database, bus, log_dir=tmp_path_factory.mktemp("conflicts"),
                          conflict_window_events="12", api_keys=KEYS).start()
    yield proc
    proc.kill()


def fact_turn(turn_id: int, who: str, **facts: Any) -> dict[str, Any]:
    acts = [{"op": "confirm_fact", "key": k, "value": v} for k, v in facts.items()]
    return turn(turn_id, f"{who} sets {sorted(facts)}", role="assistant", person_id=who, acts=acts)


async def append(c: httpx.AsyncClient, session: str, events: list[dict], expected: int | None = None,
                 strategy: str | None = None, who: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"events": events}
    if expected is not None:
        body["expected_seq"] = expected
    if strategy is not None:
        body["on_conflict"] = strategy
    if who is not None:
        body["participant_id"] = who
    return await c.post(f"/v1/sessions/{session}/events", json=body)


async def log(c: httpx.AsyncClient, session: str) -> list[dict[str, Any]]:
    r = await c.get(f"/v1/sessions/{session}/events", params={"after_seq": 0, "limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["events"]


def hp_writes(events: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """(seq, value) of every event that set fact hp (turns and resolutions)."""
    found = []
    for e in events:
        for act in e["payload"].get("acts", []):
            if act.get("key") == "hp":
                found.append((e["seq"], act.get("value")))
    return found


async def test_reject_is_the_default_and_each_request_may_choose(ingest: ServiceProcess) -> None:
    """Without on_conflict a stale batch is a 409 as before; latest_wins appends it; automatic_merge
    appends a batch touching other keys and refuses one touching a changed key, naming it and its
    current value; a batch further behind than the window is refused under any strategy."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        assert (await append(c, "s", [fact_turn(1, "p1", hp=10)], expected=0)).status_code == 200
        assert (await append(c, "s", [fact_turn(2, "p2", hp=12)], expected=1)).status_code == 200
        stale = await append(c, "s", [fact_turn(3, "p1", gold=5)], expected=1)
        assert stale.status_code == 409 and stale.json()["current_seq"] == 2
        merged = await append(c, "s", [fact_turn(3, "p1", gold=5)], expected=1, strategy="automatic_merge")
        assert merged.status_code == 200, merged.text
        assert merged.json()["results"][0]["seq"] == 3 and merged.json()["dropped"] == []
        refused = await append(c, "s", [fact_turn(4, "p1", hp=3, ac=15)], expected=1,
                               strategy="automatic_merge")
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["conflicts"] == [{"scope": "fact:hp", "current": 12}]
        latest = await append(c, "s", [fact_turn(4, "p1", hp=3)], expected=1, strategy="latest_wins")
        assert latest.status_code == 200 and latest.json()["results"][0]["seq"] == 4
        assert (await append(c, "s", [turn(10 + i) for i in range(12)])).status_code == 200
        far = await append(c, "s", [fact_turn(50, "p1", gold=1)], expected=1, strategy="latest_wins")
        assert far.status_code == 409 and far.json()["title"] == "Too far behind", far.text
        assert hp_writes(await log(c, "s")) == [(1, 10), (2, 12), (4, 3)]


async def test_stale_batches_sharing_one_group_commit_merge_against_each_other(fresh_database) -> None:
    """Ten requests against the same expected_seq that one group commit plans together under
    automatic_merge: each on its own key is appended, the one on a key an earlier request of
    the group wrote is refused naming it (rows planned in the group count as missed)."""
    pool = await create_pool(fresh_database)
    await apply_migrations(pool, "ingest", MIGRATIONS)
    committer = GroupCommitter(pool, workers=1)
    committer.start()
    try:
        await committer.append(AppendRequest("t", "m", [parse_new_event(fact_turn(1, "p0", hp=1))]))
        requests = [AppendRequest("t", "m", [parse_new_event(fact_turn(10 + i, f"p{i}", **{f"k{i}": i}))],
                                  expected_seq=1, on_conflict="automatic_merge") for i in range(10)]
        requests.append(AppendRequest("t", "m", [parse_new_event(fact_turn(30, "p9", k0=5))],
                                      expected_seq=1, on_conflict="automatic_merge"))
        answers = await asyncio.gather(*(committer.append(r) for r in requests), return_exceptions=True)
    finally:
        await committer.stop()
        await pool.close()
    assert sorted(a[0].seq for a in answers[:10]) == list(range(2, 12)), answers
    refused = answers[10]
    assert isinstance(refused, AppendRejectedError) and refused.extra["conflicts"] == [
        {"scope": "fact:k0", "current": 0}]


async def test_a_range_the_log_no_longer_holds_whole_is_not_merged(ingest: ServiceProcess,
                                                                    module_database: str) -> None:
    """When part of what a stale batch missed is gone from the log (archived by retention),
    no strategy merges against the rest: the answer is reject's 409."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for t in (1, 2, 3):
            assert (await append(c, "w", [fact_turn(t, "p1", hp=t)])).status_code == 200
        conn = await asyncpg.connect(module_database)
        try:
            await conn.execute("DELETE FROM ingest.events WHERE session_id = 'w' AND seq = 2")
        finally:
            await conn.close()
        r = await append(c, "w", [fact_turn(9, "p2", gold=1)], expected=1, strategy="automatic_merge")
        assert r.status_code == 409 and r.json()["current_seq"] == 3, r.text


async def join(c: httpx.AsyncClient, session: str, pid: str, role: str) -> None:
    r = await c.post(f"/v1/sessions/{session}/participants", json={"participant_id": pid, "role": role,
                                                                    "actor": "dm"})
    assert r.status_code == 200, r.text


async def test_provider_priority_from_the_session_policy_drops_the_lower_ranked_acts(
        ingest: ServiceProcess) -> None:
    """With the session's policy provider_priority [owner, editor], an editor's stale write to a key
    the owner changed loses that act (reported in `dropped`, flagged in the log), keeps the rest; the
    owner's stale write over the editor's wins. Only an owner may set the policy."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await join(c, "g", "dm", "owner")
        await join(c, "g", "p1", "editor")
        denied = await c.put("/v1/sessions/g/policy", headers=auth(WRITER_KEY),
                             json={"conflict_strategy": "automatic_merge", "participant_id": "p1"})
        assert denied.status_code == 403 and denied.json()["field"] == "participant_id"
        policy = await c.put("/v1/sessions/g/policy", json={
            "conflict_strategy": "provider_priority", "provider_priority": ["owner", "editor"],
            "participant_id": "dm"})
        assert policy.status_code == 200, policy.text
        assert (await c.get("/v1/sessions/g/policy")).json()["source"] == "session"
        base = (await c.get("/v1/sessions/g")).json()["last_seq"]
        assert (await append(c, "g", [fact_turn(1, "dm", hp=20)], expected=base)).status_code == 200
        lost = await append(c, "g", [fact_turn(2, "p1", hp=1, gold=7)], expected=base)
        assert lost.status_code == 200, lost.text
        assert lost.json()["strategy"] == "provider_priority"
        assert [(d["scope"], d["act"]["value"]) for d in lost.json()["dropped"]] == [("fact:hp", 1)]
        logged = (await log(c, "g"))[-1]
        assert [a["op"] for a in logged["payload"]["acts"]] == ["confirm_fact", "flag"]
        assert logged["payload"]["acts"][1]["name"] == "conflict_dropped"
        now = (await c.get("/v1/sessions/g")).json()["last_seq"]
        assert (await append(c, "g", [fact_turn(3, "p1", hp=2)], expected=now)).status_code == 200
        wins = await append(c, "g", [fact_turn(4, "dm", hp=30)], expected=now)
        assert wins.status_code == 200 and wins.json()["dropped"] == []
        assert hp_writes(await log(c, "g"))[-2:] == [(now + 1, 2), (now + 2, 30)]


async def test_user_choice_and_manual_merge_park_the_batch_until_resolved(ingest: ServiceProcess) -> None:
    """A conflicting stale batch is parked (409 with its conflict id; a retry is the same conflict);
    writes to its keys are refused while it is open, others pass; its writer resolves user_choice
    (ours: the parked batch is appended after the resolution), only an owner resolves manual_merge."""
    writer = auth(WRITER_KEY)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await join(c, "r", "dm", "owner")
        await join(c, "r", "p1", "editor")
        await join(c, "r", "p2", "editor")
        base = (await c.get("/v1/sessions/r")).json()["last_seq"]
        assert (await append(c, "r", [fact_turn(1, "p2", hp=9)], expected=base)).status_code == 200
        batch = [fact_turn(2, "p1", hp=4, gold=1)]
        parked = await append(c, "r", batch, expected=base, strategy="user_choice")
        assert parked.status_code == 409 and parked.json()["title"] == "Conflict parked", parked.text
        cid = parked.json()["conflict_id"]
        assert parked.json()["conflicts"] == [{"scope": "fact:hp", "current": 9}]
        again = await append(c, "r", batch, expected=base, strategy="user_choice")
        assert again.json()["conflict_id"] == cid and again.json()["seq"] == parked.json()["seq"]
        listed = (await c.get("/v1/sessions/r/conflicts")).json()["conflicts"]
        assert [(x["conflict_id"], x["scopes"], x["theirs"]) for x in listed] == [
            (cid, ["fact:hp"], {"fact:hp": 9})]
        blocked = await append(c, "r", [fact_turn(3, "p2", hp=11)])
        assert blocked.status_code == 409 and blocked.json()["conflict_id"] == cid
        assert (await append(c, "r", [fact_turn(4, "p2", gold=3)])).status_code == 200
        other = await c.post(f"/v1/sessions/r/conflicts/{cid}/resolve", headers=writer,
                             json={"choice": "ours", "participant_id": "p2"})
        assert other.status_code == 403
        done = await c.post(f"/v1/sessions/r/conflicts/{cid}/resolve", headers=writer,
                            json={"choice": "ours"})
        assert done.status_code == 200, done.text
        assert [r["duplicate"] for r in done.json()["results"]] == [False, False]
        assert (await c.get("/v1/sessions/r/conflicts")).json()["conflicts"] == []
        events = await log(c, "r")
        assert [e["event_type"] for e in events[-2:]] == ["session.conflict.resolved", "turn.recorded"]
        assert events[-1]["turn_id"] == 2 and hp_writes(events)[-1][1] == 4
        assert (await c.post(f"/v1/sessions/r/conflicts/{cid}/resolve",
                             json={"choice": "theirs"})).status_code == 404

        now = events[-1]["seq"]
        assert (await append(c, "r", [fact_turn(5, "p2", hp=50)], expected=now)).status_code == 200
        manual = await append(c, "r", [fact_turn(6, "p1", hp=60)], expected=now, strategy="manual_merge")
        mid = manual.json()["conflict_id"]
        refused = await c.post(f"/v1/sessions/r/conflicts/{mid}/resolve", headers=writer,
                               json={"choice": "theirs"})
        assert refused.status_code == 403 and "owner" in refused.json()["detail"]
        merged = await c.post(f"/v1/sessions/r/conflicts/{mid}/resolve", headers=writer, json={
            "choice": "merged", "participant_id": "dm",
            "acts": [{"op": "confirm_fact", "key": "hp", "value": 55}]})
        assert merged.status_code == 200, merged.text
        assert hp_writes(await log(c, "r"))[-1] == (merged.json()["seq"], 55)
        assert (await append(c, "r", [fact_turn(7, "p2", hp=1)])).status_code == 200


async def _race(url: str, session: str, who: str, ids: itertools.count, acked: list[tuple[str, int, str]],
                parked: list[tuple[int, str]], until: asyncio.Event) -> None:
    """Write fact hp against the last seq read, as fast as answers come, until told to stop."""
    async with httpx.AsyncClient(base_url=url, headers=auth(), timeout=5) as c:
        while not until.is_set():
            try:
                last = (await c.get(f"/v1/sessions/{session}")).json().get("last_seq", 0)
                await asyncio.sleep(0.02)  # think: the other writer may write meanwhile
                r = await append(c, session, [fact_turn(next(ids), who, hp=f"{who}@{last}")],
                                 expected=last, strategy=session, who=who)
            except httpx.HTTPError:  # ingest is down: try again once it is back
                await asyncio.sleep(0.05)
                continue
            if r.status_code == 200:
                acked.append((r.json()["results"][0]["event_id"], r.json()["results"][0]["seq"], who))
            elif r.status_code == 409 and r.json().get("title") == "Conflict parked":
                parked.append((r.json()["seq"], r.json()["conflict_id"]))


def _check_allowed(strategy: str, events: list[dict[str, Any]]) -> None:
    """Every logged hp write is one the strategy allows: under automatic_merge and the parking
    strategies none was written over another hp write it had not seen; under provider_priority
    an editor's never was (the owner's may be)."""
    seen_at = {e["seq"]: e for e in events}
    for seq, value in hp_writes(events):
        if seen_at[seq]["event_type"] != "turn.recorded":
            continue
        who, _, based_on = str(value).partition("@")
        missed = [s for s, _ in hp_writes(events) if int(based_on) < s < seq]
        if strategy in ("reject", "automatic_merge", "user_choice", "manual_merge") or (
                strategy == "provider_priority" and who == "p1"):
            assert not missed, f"{strategy}: hp at seq {seq} was written over {missed} unseen"


async def test_sigkill_while_two_writers_race_on_one_key_under_each_strategy(
        fresh_database, redis_url, start_ingest) -> None:
    """Two participants race on fact hp under each strategy while ingest is SIGKILLed and restarted:
    every acknowledged event and every parked conflict is in the log at its seq, and every hp write
    logged is one the strategy allows."""
    ingest = start_ingest(fresh_database, redis_url)
    ids = itertools.count(1)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for strategy in STRATEGIES:
            await join(c, strategy, "dm", "owner")
            await join(c, strategy, "p1", "editor")
        assert (await c.put("/v1/sessions/provider_priority/policy", json={
            "provider_priority": ["owner"], "participant_id": "dm"})).status_code == 200
    acked: dict[str, list[tuple[str, int, str]]] = {s: [] for s in STRATEGIES}
    parked: dict[str, list[tuple[int, str]]] = {s: [] for s in STRATEGIES}
    stop = asyncio.Event()
    writers = [asyncio.create_task(_race(ingest.url, s, who, ids, acked[s], parked[s], stop))
               for s in STRATEGIES for who in ("dm", "p1")]
    await asyncio.sleep(1.5)
    ingest.kill()
    ingest.start()
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*writers)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for strategy in STRATEGIES:
            events = await log(c, strategy)
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            by_seq = {e["seq"]: e for e in events}
            for event_id, seq, _ in acked[strategy]:
                assert by_seq[seq]["event_id"] == event_id, f"{strategy}: acknowledged seq {seq} lost"
            for seq, cid in parked[strategy]:
                assert by_seq[seq]["payload"]["conflict_id"] == cid, f"{strategy}: parked {cid} lost"
            _check_allowed(strategy, events)
            assert acked[strategy], f"{strategy}: no write was acknowledged"
        assert parked["user_choice"] or parked["manual_merge"], "the race never conflicted"
