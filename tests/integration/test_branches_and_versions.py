"""Branches and versions across the services (issue 12, item 4), on real ingest, replay,
snapshot and trace-store.

A branch needs no special code in the projections: they see a session whose first
delivered seq is from_seq + 1, heal the gap from ingest's log and so get the parent's
history re-scoped. A version is a named on-demand snapshot; rollback is the restore."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from lifeline_events import canonical_json, content_hash, fold
from lifeline_servers import RunningServer
from lifeline_testing.appends import append
from lifeline_testing.branches import half_created_branch
from lifeline_testing.builders import turn
from lifeline_testing.oracle import fold_of_log, log_of
from lifeline_testing.processes import ServiceProcess, auth
from lifeline_testing.redis_dbs import flushed_db
from lifeline_testing.replay_stack import ingest_process, replay_process, replay_state
from lifeline_testing.snapshot_stack import snapshot_process
from lifeline_testing.tracestore import service_env, wait_session_traces
from lifeline_testing.waiting import eventually

from .ingest.helpers import log_rows

PERSON = "p-branch"


@dataclass
class Stack:
    ingest: ServiceProcess
    replay: ServiceProcess
    snapshot: ServiceProcess
    tracestore: ServiceProcess


@pytest.fixture(scope="module")
async def stack(module_database: str, redis_server: RunningServer,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """ingest, replay, snapshot (a snapshot every 5 events, 2 kept) and trace-store on one
    database, Redis db 7 as bus and hot store."""
    if redis_server.controllable and not redis_server.is_running():
        redis_server.restart()
    url = await flushed_db(redis_server.url, 7)
    logs = tmp_path_factory.mktemp("branches")
    ingest = ingest_process(module_database, url, log_dir=logs)
    others = [replay_process(module_database, url, url, ingest.url, log_dir=logs, memory_url="http://127.0.0.1:9"),
              snapshot_process(module_database, url, ingest.url, logs, snapshot_keep="2"),
              ServiceProcess("lifeline_tracestore", service_env(module_database, url, ingest_url=ingest.url),
                             log_dir=logs)]
    try:
        with ThreadPoolExecutor(4) as pool:  # each migrates its own schema; the port of each is known
            for started in [pool.submit(p.start, timeout=90) for p in [ingest, *others]]:
                started.result()
        yield Stack(ingest, *others)
    finally:
        for proc in [*others, ingest]:
            proc.kill()


def _turns(first: int, last: int, text: str) -> list[dict[str, Any]]:
    return [turn(t, f"{text} {t}", role="user" if t % 2 else "assistant", person_id=PERSON, intent="booking",
                 acts=[{"op": "confirm_fact", "key": f"k{t % 3}", "value": f"{text}-{t}"}]
                 + ([{"op": "set_stage", "stage": f"{text}-stage"}] if t % 4 == 0 else []))
            for t in range(first, last + 1)]


@pytest.fixture
def ingest(stack: Stack) -> ServiceProcess:
    """The stack's ingest (each test uses its own session ids)."""
    return stack.ingest


async def _own_rows(database_url: str, *sessions: str) -> list[asyncpg.Record]:
    return [r for r in await log_rows(database_url) if r["session_id"] in sessions]


async def _log(c: httpx.AsyncClient, session: str, after_seq: int = 0, limit: int = 100) -> dict:
    r = await c.get(f"/v1/sessions/{session}/events", params={"after_seq": after_seq, "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()


async def test_branch_reads_parent_history_by_reference(ingest: ServiceProcess, module_database: str) -> None:
    """A branch's log is the parent's up to from_seq (re-scoped, not copied), then its own events."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/p/events", json={"events": [turn(i, f"t{i}", person_id="p-9")
                                                               for i in range(1, 6)]})
        r = await c.post("/v1/sessions/p/branches", json={"from_seq": 3, "name": "alt"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["session_id"], made["seq"], made["from_seq"]) == ("p.alt", 4, 3)
        assert (await c.post("/v1/sessions/p.alt/events", json={"events": [turn(4, "branch four")]})
                ).json()["results"][0]["seq"] == 5
        await c.post("/v1/sessions/p/events", json={"events": [turn(6, "parent six")]})

        parent, branch = await _log(c, "p"), await _log(c, "p.alt")
        assert [e["seq"] for e in parent["events"]] == [1, 2, 3, 4, 5, 6]
        assert [e["seq"] for e in branch["events"]] == [1, 2, 3, 4, 5]
        assert branch["last_seq"] == 5 and branch["next_after_seq"] == 5
        assert {e["session_id"] for e in branch["events"]} == {"p.alt"}
        assert [e["payload"].get("text") for e in branch["events"]] == ["t1", "t2", "t3", None, "branch four"]
        assert branch["events"][3]["event_type"] == "session.branched"
        assert branch["events"][3]["payload"] == {"parent_session_id": "p", "from_seq": 3, "name": "alt"}
        assert branch["events"][3]["person_id"] == "p-9"  # the branch belongs to the parent's person
        inherited = [e["event_id"] for e in branch["events"][:3]]
        assert not set(inherited) & {e["event_id"] for e in parent["events"]}
        assert inherited == [e["event_id"] for e in (await _log(c, "p.alt"))["events"][:3]]  # stable
        assert [e["seq"] for e in (await _log(c, "p.alt", after_seq=2, limit=2))["events"]] == [3, 4]

        wal = (await c.get("/v1/sessions/p.alt/wal")).json()
        assert [(e["seq"], e.get("inherited_from")) for e in wal["entries"]] == [
            (1, "p"), (2, "p"), (3, "p"), (4, None), (5, None)]
        assert [e["event_id"] for e in wal["entries"][:3]] == inherited

    rows = await _own_rows(module_database, "p.alt")  # by reference: the branch stores only its own rows
    assert [r["seq"] for r in rows] == [4, 5]


async def test_a_turn_the_branch_inherited_is_a_duplicate_there(ingest: ServiceProcess,
                                                                module_database: str) -> None:
    """Re-sending turn 2 to a branch made at seq 3 answers with the inherited seq and event id;
    turn 5 (after from_seq in the parent) is new on the branch, and nothing doubles."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/q/events", json={"events": [turn(i, f"t{i}", person_id="p-9")
                                                               for i in range(1, 6)]})
        assert (await c.post("/v1/sessions/q/branches", json={"from_seq": 3, "name": "b"})).status_code == 201
        inherited = (await _log(c, "q.b"))["events"][1]
        r = await c.post("/v1/sessions/q.b/events", json={"events": [turn(2, "t2 again", person_id="p-9"),
                                                                      turn(5, "t5 on b", person_id="p-9")]})
        assert r.status_code == 200, r.text
        again, fresh = r.json()["results"]
        assert (again["seq"], again["event_id"], again["duplicate"]) == (2, inherited["event_id"], True)
        assert (fresh["seq"], fresh["duplicate"]) == (5, False)
        assert [e["payload"].get("text") for e in (await _log(c, "q.b"))["events"]] == [
            "t1", "t2", "t3", None, "t5 on b"]
    assert [r["seq"] for r in await _own_rows(module_database, "q.b")] == [4, 5]


async def test_branch_of_a_branch_and_lineage(ingest: ServiceProcess, module_database: str) -> None:
    """A branch of a branch splices three logs; GET …/branches shows the lineage and the children."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/root/events", json={"events": [turn(i) for i in range(1, 5)]})
        await c.post("/v1/sessions/root/branches", json={"from_seq": 2, "name": "a"})  # root.a: 1,2 + 3
        await c.post("/v1/sessions/root.a/events", json={"events": [turn(3, "a3"), turn(4, "a4")]})  # 4, 5
        r = await c.post("/v1/sessions/root.a/branches",
                         json={"from_seq": 4, "name": "deeper", "session_id": "b2"})
        assert r.status_code == 201 and r.json()["seq"] == 5, r.text
        await c.post("/v1/sessions/b2/events", json={"events": [turn(5, "b5")]})
        log = (await _log(c, "b2"))["events"]
        assert [(e["seq"], e["event_type"], e["payload"].get("text")) for e in log] == [
            (1, "turn.recorded", "hello"), (2, "turn.recorded", "hello"), (3, "session.branched", None),
            (4, "turn.recorded", "a3"), (5, "session.branched", None), (6, "turn.recorded", "b5")]
        assert len({e["event_id"] for e in log}) == 6
        assert log[0]["event_id"] != (await _log(c, "root.a"))["events"][0]["event_id"]

        lineage = (await c.get("/v1/sessions/b2/branches")).json()
        assert [(x["session_id"], x["parent_session_id"], x["from_seq"]) for x in lineage["lineage"]] == [
            ("b2", "root.a", 4), ("root.a", "root", 2)]
        assert lineage["root_session_id"] == "root" and lineage["branches"] == []
        root = (await c.get("/v1/sessions/root/branches")).json()
        assert root["lineage"] == [] and root["branched_from"] is None
        assert [x["session_id"] for x in root["branches"]] == ["root.a"]
        children = (await c.get("/v1/sessions/root.a/branches")).json()["branches"]
        assert [x["name"] for x in children] == ["deeper"]


async def test_branch_refusals(ingest: ServiceProcess, module_database: str) -> None:
    """Beyond the parent's seq 422, an existing id 409, an unknown parent 404, a bad id 422;
    nothing is written by a refusal."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/r/events", json={"events": [turn(1), turn(2)]})
        await c.post("/v1/sessions/other/events", json={"events": [turn(1)]})
        beyond = await c.post("/v1/sessions/r/branches", json={"from_seq": 3, "name": "x"})
        assert beyond.status_code == 422 and beyond.json()["errors"][0]["field"] == "from_seq"
        assert beyond.headers["content-type"].startswith("application/problem+json")
        unknown = await c.post("/v1/sessions/nope/branches", json={"from_seq": 0, "name": "x"})
        assert unknown.status_code == 404
        taken = await c.post("/v1/sessions/r/branches",
                             json={"from_seq": 1, "name": "x", "session_id": "other"})
        assert taken.status_code == 409 and taken.json()["session_id"] == "other"
        bad = await c.post("/v1/sessions/r/branches", json={"from_seq": 1, "name": "has space"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
        negative = await c.post("/v1/sessions/r/branches", json={"from_seq": -1, "name": "x"})
        assert negative.status_code == 422
        ok = await c.post("/v1/sessions/r/branches", json={"from_seq": 2, "name": "x"})
        assert ok.status_code == 201
        again = await c.post("/v1/sessions/r/branches", json={"from_seq": 2, "name": "x"})
        assert again.status_code == 409
        forged = await c.post("/v1/sessions/r-forged/events", json={
            "event_type": "session.branched", "payload": {"parent_session_id": "r", "from_seq": 1}})
        assert forged.status_code == 422
        other_tenant = await c.get("/v1/sessions/r.x/branches", headers=auth("test-other-tenant"))
        assert other_tenant.status_code == 404
    rows = await _own_rows(module_database, "r", "r.x", "other", "r-forged")
    assert sorted({r["session_id"] for r in rows}) == ["other", "r", "r.x"]


async def test_a_branch_starts_with_the_parents_room_at_from_seq(ingest: ServiceProcess) -> None:
    """The room rules on a branch are its fold's room: the parent's participants at from_seq
    (a stranger's append is refused, a participant's taken); branched before the room, none."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        async def post(path: str, body: dict[str, Any]) -> httpx.Response:
            return await c.post(f"/v1/sessions/{path}", json=body)

        await post("room/events", {"events": [turn(1)]})
        for pid, role in (("dm", "owner"), ("p1", "editor")):
            joined = await post("room/participants", {"participant_id": pid, "role": role})
            assert joined.status_code == 200, joined.text
        assert (await post("room/branches", {"from_seq": 3, "name": "alt"})).status_code == 201
        assert (await post("room/branches", {"from_seq": 1, "name": "early"})).status_code == 201
        seen = (await c.get("/v1/sessions/room.alt/participants")).json()["participants"]
        assert seen == (await c.get("/v1/sessions/room/participants")).json()["participants"]
        assert [p["participant_id"] for p in seen] == ["dm", "p1"]
        stranger = await post("room.alt/events", {"events": [turn(2)], "participant_id": "x"})
        assert stranger.status_code == 403, stranger.text
        member = await post("room.alt/events", {"events": [turn(2)], "participant_id": "p1"})
        assert member.status_code == 200 and member.json()["results"][0]["seq"] == 5
        early = await post("room.early/events", {"events": [turn(2)], "participant_id": "x"})
        assert early.status_code == 200, early.text


async def test_a_stale_batch_on_a_branch_sees_what_it_missed_in_the_inherited_part(
        ingest: ServiceProcess) -> None:
    """automatic_merge on a branch compares with every event after expected_seq, inherited ones
    included: a batch prepared at seq 1 that sets a fact the parent changed at seq 2 is a 409."""
    def fact(turn_id: int, value: str) -> dict[str, Any]:
        return turn(turn_id, acts=[{"op": "confirm_fact", "key": "budget", "value": value}])

    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/cm/events", json={"events": [turn(1), fact(2, "100")]})
        made = await c.post("/v1/sessions/cm/branches", json={"from_seq": 2, "name": "b"})
        assert made.status_code == 201, made.text
        stale = await c.post("/v1/sessions/cm.b/events", json={
            "events": [fact(3, "200")], "expected_seq": 1, "on_conflict": "automatic_merge"})
        assert stale.status_code == 409, stale.text
        assert "fact:budget" in stale.text


async def test_wal_retention_keeps_a_parent_with_branches(ingest: ServiceProcess) -> None:
    """A finished, published, idle parent is no cleanup candidate while it has a branch (its rows
    are the branch's history); a finished session without branches is one."""
    finished = {"event_type": "session.finished", "payload": {"reason": "done"}}
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for session in ("w", "w-plain"):
            await c.post(f"/v1/sessions/{session}/events", json={"events": [turn(1), finished]})
        assert (await c.post("/v1/sessions/w/branches", json={"from_seq": 2, "name": "b"})).status_code == 201

        async def candidates() -> set[str] | None:
            r = await c.post("/v1/admin/wal/cleanup",
                             json={"days": 0, "dry_run": True, "tenant_id": "default"})
            assert r.status_code == 200, r.text
            found = {x["session_id"] for x in r.json()["sessions"]}
            return found if "w-plain" in found else None  # once the relay has published it

        assert "w" not in await eventually(candidates, timeout=30, what="w-plain a cleanup candidate")


async def test_interrupted_branch_is_finished_by_a_retry(ingest: ServiceProcess,
                                                         module_database: str) -> None:
    """A branch whose rows were written but whose session.branched was not is finished by the
    same request again (its event id is fixed), instead of being stuck behind a 409."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/u/events", json={"events": [turn(1), turn(2)]})
    await half_created_branch(module_database, "u", "y", 1)  # what a crash between the two steps leaves
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        r = await c.post("/v1/sessions/u/branches", json={"from_seq": 1, "name": "y"})
        assert r.status_code == 201 and r.json()["seq"] == 2, r.text
        assert uuid.UUID(r.json()["event_id"]).version == 5
        types = [e["event_type"] for e in (await _log(c, "u.y"))["events"]]
        assert types == ["turn.recorded", "session.branched"]


async def test_nothing_lands_on_a_branch_before_its_session_branched(ingest: ServiceProcess,
                                                                     module_database: str) -> None:
    """Between a branch's rows and its session.branched, a plain append and a room command get 409
    "Branch being created, retry"; the creation's retry then logs session.branched at from_seq + 1
    and the refused append, re-sent, follows it."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/bw/events", json={"events": [turn(1), turn(2), turn(3)]})
    await half_created_branch(module_database, "bw", "z", 2)  # before the route appends the event
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        early = await c.post("/v1/sessions/bw.z/events", json={"events": [turn(7, "too early")]})
        assert early.status_code == 409, early.text
        assert early.json()["title"] == "Branch being created, retry"
        assert early.headers["content-type"].startswith("application/problem+json")
        joined = await c.post("/v1/sessions/bw.z/participants",
                              json={"participant_id": "dm", "role": "owner"})
        assert joined.status_code == 409 and joined.json()["title"] == "Branch being created, retry"
        made = await c.post("/v1/sessions/bw/branches", json={"from_seq": 2, "name": "z"})
        assert made.status_code == 201 and made.json()["seq"] == 3, made.text
        later = await c.post("/v1/sessions/bw.z/events", json={"events": [turn(7, "too early")]})
        assert later.status_code == 200 and later.json()["results"][0]["seq"] == 4, later.text
        assert [e["event_type"] for e in (await _log(c, "bw.z"))["events"]] == [
            "turn.recorded", "turn.recorded", "session.branched", "turn.recorded"]
    assert [r["seq"] for r in await _own_rows(module_database, "bw.z")] == [3, 4]


async def test_appends_racing_a_branch_s_creation_all_follow_its_session_branched(
        ingest: ServiceProcess) -> None:
    """Appends sent to a branch id while the branch is created are each refused (409: no such
    branch yet, or being created) or logged after session.branched, never before it."""
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/br/events", json={"events": [turn(1), turn(2)]})

        async def write(t: int) -> int:
            r = await c.post("/v1/sessions/br.x/events", json={"events": [turn(t, f"racer {t}")]})
            assert r.status_code in (200, 409), r.text
            return r.status_code

        made, *codes = await asyncio.gather(
            c.post("/v1/sessions/br/branches", json={"from_seq": 2, "name": "x"}),
            *(write(t) for t in range(10, 30)))
        log = (await _log(c, "br.x"))["events"]
        if made.status_code == 201:  # else a racer created br.x as a plain session first (409)
            assert made.json()["seq"] == 3 and log[2]["event_type"] == "session.branched", log
            assert len(log) == 3 + codes.count(200)
        else:
            assert made.status_code == 409 and all(e["event_type"] == "turn.recorded" for e in log)


async def test_replay_snapshot_and_tracestore_see_a_branch_as_its_whole_log(stack: Stack) -> None:
    """replay's state, context and RECOVERY_SYNC, snapshot's snapshot and export and trace-store's
    traces of a branch all equal its log: the parent's up to from_seq, re-scoped, then its own."""
    await append(stack.ingest.url, "bp", _turns(1, 8, "parent"))
    async with httpx.AsyncClient(timeout=30, headers=auth()) as http:
        made = await http.post(f"{stack.ingest.url}/v1/sessions/bp/branches",
                               json={"from_seq": 5, "name": "alt"})
        assert made.status_code == 201, made.text
        branch = made.json()["session_id"]
        last = (await append(stack.ingest.url, branch, _turns(6, 7, "branch")))[-1]["seq"]
        await append(stack.ingest.url, "bp", _turns(9, 10, "parent"))
        log = await log_of(stack.ingest.url, branch)
        truth = await fold_of_log(stack.ingest.url, branch)
        assert [e.seq for e in log] == list(range(1, last + 1)) and last == 8
        assert truth.session_id == branch and truth.person_id == PERSON
        assert truth.branched_from is not None and truth.branched_from.parent_session_id == "bp"
        assert truth.confirmed_facts == {"k0": "branch-6", "k1": "branch-7", "k2": "parent-5"}
        assert truth.stage == "parent-stage"  # from parent turn 4; the parent's turn 8 is not the branch's

        await _replay_agrees(http, stack.replay.url, branch, last, truth)
        await _snapshot_agrees(http, stack.snapshot.url, branch, last, truth, [str(e.event_id) for e in log])
        traces = await wait_session_traces(stack.tracestore.url, PERSON, branch, last)
        traces = [t for t in traces if t["event_type"] != "snapshot.created"]  # the snapshot taken above
        assert len(traces) == last and {t["session_id"] for t in traces} == {branch}, traces
        assert {t["trace_id"] for t in traces} == {str(e.event_id) for e in log}
        parent_traces = await wait_session_traces(stack.tracestore.url, PERSON, "bp", 10)
        assert not {t["trace_id"] for t in parent_traces} & {t["trace_id"] for t in traces}
        lineage = (await http.get(f"{stack.tracestore.url}/v1/sessions/{branch}/branches")).json()
        assert lineage["lineage"] == [{"session_id": branch, "parent_session_id": "bp", "from_seq": 5,
                                       "name": "alt"}]
        children = (await http.get(f"{stack.tracestore.url}/v1/sessions/bp/branches")).json()
        assert children["lineage"] == [] and [b["session_id"] for b in children["branches"]] == [branch]


async def _replay_agrees(http: httpx.AsyncClient, replay: str, branch: str, last: int, truth: Any) -> None:
    r = await replay_state(http, replay, branch, min_seq=last)
    assert r.status_code == 200, r.text
    assert canonical_json(r.json()["state"]) == canonical_json(truth)

    async def hot() -> dict[str, Any] | None:  # the projection itself, healed from the log
        body = (await replay_state(http, replay, branch)).json()
        return body if body.get("mode") == "replay" and body["seq"] == last else None

    assert canonical_json((await eventually(hot, timeout=30, what="branch state in replay"))["state"]) \
        == canonical_json(truth)
    window = await http.get(f"{replay}/v1/sessions/{branch}/context",
                            params={"provider": "openai", "budget_tokens": 4000, "min_seq": last})
    assert window.status_code == 200, window.text
    assert "parent 1" in window.text and "branch 7" in window.text and "parent 9" not in window.text
    ws_url = replay.replace("http://", "ws://") + f"/v1/sessions/{branch}/ws"
    async with connect(ws_url, additional_headers=auth(), open_timeout=10) as ws:
        sync = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert sync["type"] == "RECOVERY_SYNC" and sync["seq"] == last
    assert sync["confirmed_facts"] == truth.confirmed_facts and sync["stage"] == truth.stage


async def _snapshot_agrees(http: httpx.AsyncClient, snapshot: str, branch: str, last: int, truth: Any,
                           event_ids: list[str]) -> None:
    taken = await http.post(f"{snapshot}/v1/sessions/{branch}/snapshots", json={"label": "branch"})
    assert taken.status_code in (200, 201), taken.text
    assert taken.json()["at_seq"] == last and taken.json()["content_hash"] == content_hash(truth)
    bundle = await http.get(f"{snapshot}/v1/sessions/{branch}/export")
    assert bundle.status_code == 200, bundle.text
    events = bundle.json()["events"]
    assert [e["seq"] for e in events] == list(range(1, last + 1))
    assert {e["session_id"] for e in events} == {branch} and [e["event_id"] for e in events] == event_ids
    imported = await http.post(f"{snapshot}/v1/sessions/import", content=bundle.content,
                               headers={"content-type": "application/json"})
    assert imported.status_code == 201, imported.text  # a flat copy: the branch's history, not its origin
    assert imported.json()["last_seq"] == last - 1


async def test_versions_are_named_snapshots_listed_by_tag_kept_and_restorable(stack: Stack) -> None:
    """POST …/versions names the current state (201; the same state again: 200, tags merged),
    GET …/versions lists newest first and filters by tag, count retention keeps versions, and
    restoring a version rolls the state back to it."""
    session = "vs"
    await append(stack.ingest.url, session, _turns(1, 4, "v"))
    base = f"{stack.snapshot.url}/v1/sessions/{session}/versions"
    async with httpx.AsyncClient(timeout=30, headers=auth()) as http:
        first = await http.post(base, json={"message": "first draft", "tags": ["draft", "act-1"]})
        assert first.status_code == 201, first.text
        assert first.json()["at_seq"] == 4 and first.json()["tags"] == ["act-1", "draft"]
        again = await http.post(base, json={"message": "same state", "tags": ["extra"]})
        assert again.status_code == 200 and again.json()["version_id"] == first.json()["version_id"]
        assert again.json()["message"] == "first draft"
        assert again.json()["tags"] == ["act-1", "draft", "extra"]
        await append(stack.ingest.url, session, _turns(5, 22, "v"))  # periodic snapshots at 5 … 20, 2 kept
        second = await http.post(base, json={"message": "later", "tags": ["act-2"]})
        assert second.status_code == 201 and second.json()["at_seq"] == 22

        listed = (await http.get(base)).json()["versions"]
        assert [v["message"] for v in listed] == ["later", "first draft"]
        assert [v["message"] for v in (await http.get(base, params={"tag": "draft"})).json()["versions"]] \
            == ["first draft"]
        assert (await http.get(base, params={"tag": "nope"})).json()["versions"] == []
        assert (await http.get(base, params={"tag": "has space"})).status_code == 422
        snapshots = (await http.get(f"{stack.snapshot.url}/v1/sessions/{session}/snapshots")).json()
        kept = {s["snapshot_id"] for s in snapshots["snapshots"]}
        versions = {v["version_id"] for v in listed}
        assert versions <= kept and len(kept - versions) <= 2  # the oldest snapshot, yet a version: kept

        assert (await http.get(f"{stack.snapshot.url}/v1/sessions/unknown/versions")).status_code == 404
        assert (await http.post(f"{stack.snapshot.url}/v1/sessions/unknown/versions",
                                json={"message": "x"})).status_code == 404
        for bad in ({"message": ""}, {"message": "x", "tags": ["has space"]}, {"message": "x", "label": "y"},
                    {"tags": ["a"]}):
            refused = await http.post(base, json=bad)
            assert refused.status_code == 422, (bad, refused.text)

        restored = await http.post(f"{stack.snapshot.url}/v1/sessions/{session}/restore/"
                                   f"{first.json()['version_id']}")
        assert restored.status_code == 200, restored.text
        log = await log_of(stack.ingest.url, session)
        truth = await fold_of_log(stack.ingest.url, session)
        at_version = fold(log[:4])
        assert truth.confirmed_facts == at_version.confirmed_facts and truth.stage == at_version.stage
        r = await replay_state(http, stack.replay.url, session, min_seq=restored.json()["seq"])
        assert r.json()["state"]["confirmed_facts"] == at_version.confirmed_facts
