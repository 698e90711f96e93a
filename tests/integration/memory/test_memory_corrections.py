"""Provenance and correction on real servers: evidence, versions, digests, suppressions, forgetting."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from lifeline_events import TOPIC_LIFECYCLE, Event
from lifeline_testing.appends import append
from lifeline_testing.processes import auth
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually

from .helpers import coach_session, get, oracle, start_memory, turn, without_volatile


async def test_evidence_versions_and_digests_cite_the_log(fresh_database, redis_url, procs) -> None:
    """Evidence lists every turn behind an item with the log's ids; versions say what changed;
    per-session digests are served."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    first = await append(ingest.url, "s-1", coach_session("p-1", 0, ["late", "late", "late"]))
    await append(ingest.url, "s-2", coach_session("p-1", 2, ["rude"]))
    assert (await get(memory.url, "/v1/persons/p-1/profile", after_session="s-2")).status_code == 200
    ev = (await get(memory.url, "/v1/persons/p-1/evidence", kind="error", code="late")).json()["evidence"]
    assert len(ev) == 6  # three turns, each an act and a grader
    by_seq = {r["seq"]: r for r in first}
    for item in ev:
        assert item["session_id"] == "s-1" and item["event_id"] == by_seq[item["seq"]]["event_id"]
        assert item["live"] is True and item["suppressed"] is False
    assert {i["source"] for i in ev} == {"act", "grader:coach"}
    page = (await get(memory.url, "/v1/persons/p-1/evidence", kind="error", code="late", limit=4)).json()
    rest = (await get(memory.url, "/v1/persons/p-1/evidence", kind="error", code="late",
                      after=page["next"])).json()
    assert page["evidence"] + rest["evidence"] == ev and rest["next"] is None
    bad = await get(memory.url, "/v1/persons/p-1/evidence", kind="error", code="late", after="nope")
    assert bad.status_code == 422 and "after" in bad.text
    versions = (await get(memory.url, "/v1/persons/p-1/profile/versions")).json()["versions"]
    assert versions[-1]["version"] == 1 and versions[-1]["changed"]["top_errors"]["added"] == ["late"]
    sessions = (await get(memory.url, "/v1/persons/p-1/sessions")).json()["sessions"]
    assert [s["session_id"] for s in sessions] == ["s-2", "s-1"]
    one = (await get(memory.url, "/v1/persons/p-1/sessions/s-1")).json()
    assert {i["code"]: i["n"] for i in one["items"]["error"]} == {"late": 3} and len(one["digest_hash"]) == 64
    old = (await get(memory.url, "/v1/persons/p-1/profile", version=1)).json()
    assert old["version"] == 1 and old["sessions_count"] >= 1


async def test_suppression_recomputes_as_if_the_evidence_never_existed(fresh_database, redis_url,
                                                                        procs) -> None:
    """Suppressing a code's evidence removes it from the profile; undoing it gives back the same bytes."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-2", 0, ["bug", "slow"]))
    await append(ingest.url, "s-2", coach_session("p-2", 1, ["bug", "slow"]))
    before = (await get(memory.url, "/v1/persons/p-2/profile", after_session="s-2")).json()
    assert before["top_errors"] == ["bug", "slow"] or before["top_errors"] == ["slow", "bug"]
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        missing = await c.post("/v1/persons/p-2/suppressions", json={"kind": "error", "code": "bug"})
        assert missing.status_code == 422 and "reason" in missing.text
        bad_kind = await c.post("/v1/persons/p-2/suppressions",
                                json={"kind": "mood", "code": "bug", "reason": "x"})
        assert bad_kind.status_code == 422 and "kind" in bad_kind.text
        r = await c.post("/v1/persons/p-2/suppressions", json={"kind": "error", "code": "bug",
                                                               "reason": "grader bug OPS-7"})
        assert r.status_code == 201, r.text
        after = (await c.get("/v1/persons/p-2/profile")).json()
        assert after["top_errors"] == ["slow"] and all(e["code"] != "bug" for e in after["errors"])
        ev = (await c.get("/v1/persons/p-2/evidence", params={"kind": "error", "code": "bug"})).json()
        assert ev["evidence"] and all(i["suppressed"] for i in ev["evidence"])
        undo = await c.delete(f"/v1/persons/p-2/suppressions/{r.json()['id']}")
        assert undo.status_code == 200
        restored = (await c.get("/v1/persons/p-2/profile")).json()
        assert restored["content_hash"] == before["content_hash"]
        ro = httpx.AsyncClient(base_url=memory.url, headers=auth("test-read-only"))
        async with ro:
            denied = await ro.post("/v1/persons/p-2/suppressions",
                                   json={"kind": "error", "code": "bug", "reason": "x"})
            assert denied.status_code == 403


async def test_forgetting_a_person_survives_redelivery(fresh_database, bus_url, procs) -> None:
    """On either bus, DELETE person: 410 afterwards, a WAL repair that re-publishes everything
    brings nothing back, profile.forgotten is published, and a new session (block_future=false)
    starts afresh."""
    ingest = procs.ingest(fresh_database, bus_url)
    memory = start_memory(procs, fresh_database, bus_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-3", 0, ["a", "a"]))
    await append(ingest.url, "s-2", coach_session("p-3", 1, ["b"]))
    assert (await get(memory.url, "/v1/persons/p-3/profile", after_session="s-2")).status_code == 200
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        r = await c.delete("/v1/persons/p-3", params={"reason": "GDPR request 12"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["deleted"]["digests"] == 2 and body["deleted"]["observations"] > 0
        assert "ingest's log" in body["not_erased"] and body["tombstone"]["block_future"] is False
        gone = await c.get("/v1/persons/p-3/profile")
        assert gone.status_code == 410 and "forgotten_at" in gone.json()
        assert (await c.get("/v1/persons/p-3/bias")).status_code == 410
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth(), timeout=30) as c:
        for s in ("s-1", "s-2"):
            r = await c.post("/v1/admin/wal/repair", json={"session_id": s, "from_seq": 1, "dry_run": False})
            assert r.status_code == 200, r.text
    await asyncio.sleep(1.5)
    assert (await get(memory.url, "/v1/persons/p-3/profile")).status_code == 410
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        rebuilt = await c.post("/v1/persons/p-3/consolidate", json={"rebuild": True})
        assert rebuilt.status_code == 200 and rebuilt.json()["sessions_count"] == 0
    records = [Event.from_json(r.value) for r in await read_topic(bus_url, TOPIC_LIFECYCLE)]
    forgotten = [e for e in records if e.event_type == "profile.forgotten" and e.person_id == "p-3"]
    assert len(forgotten) == 1 and forgotten[0].payload.scope == "person"
    await append(ingest.url, "s-3", coach_session("p-3", 5, ["c", "c"]))
    fresh = await get(memory.url, "/v1/persons/p-3/profile", after_session="s-3")
    assert fresh.status_code == 200 and [s["session_id"] for s in fresh.json()["sessions"]] == ["s-3"]
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        rebuilt = (await c.post("/v1/persons/p-3/consolidate", json={"rebuild": True})).json()
    assert rebuilt["changed"] is False and rebuilt["content_hash"] == fresh.json()["content_hash"]


async def test_forgetting_a_session_equals_never_having_it(fresh_database, redis_url, procs) -> None:
    """DELETE one session: the profile becomes the oracle's profile of the other sessions, byte for byte."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-4", 0, ["x", "y"]))
    await append(ingest.url, "s-2", coach_session("p-4", 1, ["x"]))
    await append(ingest.url, "s-3", coach_session("p-4", 2, ["y", "y"]))
    assert (await get(memory.url, "/v1/persons/p-4/profile", after_session="s-3")).status_code == 200
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        r = await c.delete("/v1/persons/p-4/sessions/s-2")
        assert r.status_code == 200, r.text
        served = (await c.get("/v1/persons/p-4/profile")).json()
        assert (await c.delete("/v1/persons/p-4/sessions/s-9")).status_code == 404
    expected, _ = await oracle(ingest.url, "p-4", ["s-1", "s-3"])
    assert expected is not None
    assert without_volatile(served) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)


async def test_tenants_scopes_and_bad_input(fresh_database, redis_url, procs) -> None:
    """Another tenant's key sees 404 for the same person id on every endpoint; bad input is 4xx
    problem+json naming the field; tenant_id only for admin keys."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-5", 0, ["q", "q"]))
    assert (await get(memory.url, "/v1/persons/p-5/profile", after_session="s-1")).status_code == 200
    other = "test-other-tenant"
    for path, params in (("/v1/persons/p-5/profile", {}), ("/v1/persons/p-5/bias", {}),
                         ("/v1/persons/p-5/profile/versions", {}), ("/v1/persons/p-5/sessions", {}),
                         ("/v1/persons/p-5/sessions/s-1", {}),
                         ("/v1/persons/p-5/evidence", {"kind": "error", "code": "q"})):
        r = await get(memory.url, path, key=other, **params)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    crossed = await get(memory.url, "/v1/persons/p-5/profile", key=other, tenant_id="default")
    assert crossed.status_code == 403
    assert (await get(memory.url, "/v1/persons/nobody/profile")).status_code == 404
    bad = await get(memory.url, "/v1/persons/p-5/evidence", kind="mood", code="q")
    assert bad.status_code == 422 and "kind" in bad.text
    assert (await get(memory.url, "/v1/persons/p-5/profile", version="zero")).status_code == 422
    assert (await get(memory.url, "/v1/persons/p-5/profile", version=99)).status_code == 404
    assert (await get(memory.url, "/v1/persons/bad%20id/profile")).status_code == 422
    assert (await get(memory.url, "/v1/persons/p-5/profile", key="nope")).status_code == 401
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        r = await c.post("/v1/persons/p-9/consolidate", json={"session_id": "s-1"})
        assert r.status_code == 409 and r.json()["session_person"] == "p-5"
        assert (await c.post("/v1/persons/p-5/consolidate", json={"session_id": "s-404"})).status_code == 404
        waited = await c.get("/v1/persons/p-5/profile", params={"after_session": "s-never"})
        assert waited.status_code == 504 and waited.json()["version"] >= 1


async def test_a_settings_change_reconsolidates_once(fresh_database, redis_url, procs) -> None:
    """Restarted with new labels, memory recomputes every profile: one new version with reason
    `settings`; a restart with the same settings changes nothing."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-6", 0, ["late", "late", "late"]))
    before = (await get(memory.url, "/v1/persons/p-6/profile", after_session="s-1")).json()
    memory.kill()
    labelled = start_memory(procs, fresh_database, redis_url, ingest,
                            memory_labels='{"late": "arriving late to the point"}')

    async def relabelled() -> dict | None:
        body = (await get(labelled.url, "/v1/persons/p-6/profile")).json()
        return body if body["version"] > before["version"] else None

    after = await eventually(relabelled, timeout=20, what="a settings version")
    assert after["errors"][0]["label"] == "arriving late to the point"
    assert after["settings_hash"] != before["settings_hash"]
    versions = (await get(labelled.url, "/v1/persons/p-6/profile/versions")).json()["versions"]
    assert versions[0]["reason"] == "settings" and versions[0]["version"] == before["version"] + 1
    labelled.kill()
    again = start_memory(procs, fresh_database, redis_url, ingest,
                         memory_labels='{"late": "arriving late to the point"}')
    await asyncio.sleep(1.5)
    assert (await get(again.url, "/v1/persons/p-6/profile")).json()["version"] == after["version"]


async def test_dry_run_previews_without_writing(fresh_database, redis_url, procs) -> None:
    """dry_run answers the profile a consolidation would write (here: with an open session
    sealed provisionally) and writes nothing; rebuild + dry_run verifies the stored profile
    against ingest's log."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-8", 0, ["late", "late", "late"]))
    before = (await get(memory.url, "/v1/persons/p-8/profile", after_session="s-1")).json()
    await append(ingest.url, "s-2", coach_session("p-8", 1, ["rude", "rude", "rude"])[:-1])  # not finished
    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        preview = (await c.post("/v1/persons/p-8/consolidate",
                                json={"session_id": "s-2", "dry_run": True})).json()
        assert preview["changed"] is True and preview["version"] == before["version"] + 1
        assert "rude" in preview["profile"]["top_errors"] and preview["dry_run"] is True
        verified = (await c.post("/v1/persons/p-8/consolidate",
                                 json={"rebuild": True, "dry_run": True})).json()
        assert verified["content_hash"] == preview["content_hash"]  # the open session is in the log too
        assert (await c.get("/v1/persons/p-8/sessions/s-2")).status_code == 404
        after = (await c.get("/v1/persons/p-8/profile")).json()
        assert after["version"] == before["version"] and after["content_hash"] == before["content_hash"]
        real = (await c.post("/v1/persons/p-8/consolidate", json={"session_id": "s-2"})).json()
        assert real["changed"] is True and real["content_hash"] == preview["content_hash"]
        check = (await c.post("/v1/persons/p-8/consolidate", json={"rebuild": True, "dry_run": True})).json()
        assert check["changed"] is False


async def test_a_session_without_person_joins_when_one_is_named(fresh_database, redis_url, procs) -> None:
    """A finished session no event tied to a person makes no profile; a later event naming the
    person attaches it, and the profile equals the oracle's."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    anonymous = [{k: v for k, v in e.items() if k != "person_id"}
                 for e in coach_session("p-9", 0, ["late", "late", "late"])]
    await append(ingest.url, "s-anon", anonymous)
    await asyncio.sleep(1.0)
    assert (await get(memory.url, "/v1/persons/p-9/profile")).status_code == 404
    await append(ingest.url, "s-anon", [turn(99, "p-9", 0, text="it's me, p-9")])
    r = await get(memory.url, "/v1/persons/p-9/profile", after_session="s-anon")
    assert r.status_code == 200, r.text
    expected, _ = await oracle(ingest.url, "p-9", ["s-anon"])
    assert expected is not None
    assert without_volatile(r.json()) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)
