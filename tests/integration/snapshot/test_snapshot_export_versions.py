"""Versions in export bundles, against real ingest and snapshot: an export carries them, an
import recreates them on the sandbox (message, tags and versioned_at kept), a version that no
longer matches the bundle's history is reported as not restored, and a version 1 bundle
(written before versions) still imports."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

from lifeline_events import content_hash, fold
from lifeline_snapshot.export.bundle import section_hash
from lifeline_testing.appends import append
from lifeline_testing.oracle import log_of
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack


def sid() -> str:
    return f"xv-{uuid.uuid4().hex[:10]}"


def turns(first: int, last: int) -> list[dict[str, Any]]:
    return [{"event_type": "turn.recorded", "turn_id": t, "person_id": "p-7",
             "payload": {"role": "user" if t % 2 else "assistant", "text": f"turn {t}",
                         "acts": [{"op": "confirm_fact", "key": f"k{t % 2}", "value": f"v{t}"}]}}
            for t in range(first, last + 1)]


def client(stack: SnapshotStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(), timeout=60)


async def _versioned_session(stack: SnapshotStack, c: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    """A session of 7 turns with a version at seq 2 and one at seq 7, newest first."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 2))
    first = await c.post(f"/v1/sessions/{session}/versions", json={"message": "first draft",
                                                                     "tags": ["draft", "act-1"]})
    assert first.status_code == 201, first.text
    await append(stack.ingest.url, session, turns(3, 7))
    later = await c.post(f"/v1/sessions/{session}/versions", json={"message": "later", "tags": ["act-2"]})
    assert later.status_code == 201, later.text
    return session, (await c.get(f"/v1/sessions/{session}/versions")).json()["versions"]


async def test_export_import_round_trip_keeps_versions(stack: SnapshotStack) -> None:
    """The bundle lists the versions oldest first; the import recreates each at the same at_seq on
    the sandbox's own fold, keeping message, tags and versioned_at, and restoring one works."""
    async with client(stack) as c:
        session, originals = await _versioned_session(stack, c)
        exported = await c.get(f"/v1/sessions/{session}/export")
        bundle = orjson.loads(exported.content)
        assert bundle["version"] == 2 and bundle["hashes"]["versions"] == section_hash(bundle["versions"])
        assert [(v["message"], v["at_seq"], v["tags"]) for v in bundle["versions"]] == [
            ("first draft", 2, ["act-1", "draft"]), ("later", 7, ["act-2"])]
        imported = await c.post("/v1/sessions/import", content=exported.content)
        packed = await c.post("/v1/sessions/import", headers={"content-type": "application/msgpack"},
                              content=(await c.get(f"/v1/sessions/{session}/export",
                                                   headers={"accept": "application/msgpack"})).content)
        assert imported.status_code == packed.status_code == 201, imported.text
        answer = imported.json()
        assert answer["versions_not_restored"] == [] and len(packed.json()["versions_restored"]) == 2
        sandbox = answer["session_id"]
        listed = (await c.get(f"/v1/sessions/{sandbox}/versions")).json()["versions"]
        assert [(v["message"], v["tags"], v["at_seq"], v["versioned_at"]) for v in listed] == [
            (v["message"], v["tags"], v["at_seq"], v["versioned_at"]) for v in originals]
        assert {v["version_id"] for v in listed} == {v["version_id"] for v in answer["versions_restored"]}
        assert {v["source_version_id"] for v in answer["versions_restored"]} == {
            v["version_id"] for v in originals}
        log = await log_of(stack.ingest.url, sandbox)
        for version in listed:
            assert version["trigger"] == "import" and version["session_id"] == sandbox
            at = fold(e for e in log if e.seq <= version["at_seq"])
            assert version["content_hash"] == content_hash(at.model_dump(mode="json"))
        first = next(v for v in listed if v["message"] == "first draft")
        restored = await c.post(f"/v1/sessions/{sandbox}/restore/{first['version_id']}")
        assert restored.status_code == 200, restored.text


async def test_a_version_that_does_not_match_the_history_is_reported_not_restored(
        stack: SnapshotStack) -> None:
    """A version whose content_hash is not the fold of the bundle's events at its at_seq (here:
    edited, the section re-hashed) is listed in versions_not_restored with the reason; the other
    version and the events are imported."""
    async with client(stack) as c:
        session, _ = await _versioned_session(stack, c)
        bundle = orjson.loads((await c.get(f"/v1/sessions/{session}/export")).content)
        bundle["versions"][0]["content_hash"] = bundle["versions"][1]["content_hash"]
        bundle["hashes"]["versions"] = section_hash(bundle["versions"])
        imported = await c.post("/v1/sessions/import", content=orjson.dumps(bundle))
        assert imported.status_code == 201, imported.text
        answer = imported.json()
        assert [(v["message"], v["at_seq"]) for v in answer["versions_restored"]] == [("later", 7)]
        [refused] = answer["versions_not_restored"]
        assert (refused["message"], refused["at_seq"]) == ("first draft", 2)
        assert refused["tags"] == ["act-1", "draft"]
        assert "does not match the version's content_hash" in refused["reason"]
        listed = (await c.get(f"/v1/sessions/{answer['session_id']}/versions")).json()["versions"]
        assert [v["message"] for v in listed] == ["later"]


async def test_a_version_1_bundle_still_imports(stack: SnapshotStack) -> None:
    """A bundle as written before versions (version 1, no versions section or hash) imports all
    its events and restores no version."""
    async with client(stack) as c:
        session, _ = await _versioned_session(stack, c)
        bundle = orjson.loads((await c.get(f"/v1/sessions/{session}/export")).content)
        del bundle["versions"], bundle["hashes"]["versions"]
        bundle["version"] = 1
        imported = await c.post("/v1/sessions/import", content=orjson.dumps(bundle))
        assert imported.status_code == 201, imported.text
        answer = imported.json()
        assert (answer["events"], answer["last_seq"]) == (7, 7)
        assert answer["versions_restored"] == answer["versions_not_restored"] == []


async def test_a_branch_s_versions_land_one_seq_earlier_in_the_flat_import(stack: SnapshotStack) -> None:
    """The import leaves a branch's session.branched out, so a version taken at or after it is
    recreated one seq earlier on the sandbox, at the state of the same history."""
    parent = sid()
    await append(stack.ingest.url, parent, turns(1, 4))
    async with client(stack) as c:
        made = await c.post(f"{stack.ingest.url}/v1/sessions/{parent}/branches",
                            json={"from_seq": 2, "name": "b"})
        assert made.status_code == 201, made.text
        branch = made.json()["session_id"]
        versions = f"/v1/sessions/{branch}/versions"
        assert (await c.post(versions, json={"message": "at the fork"})).status_code == 201
        await append(stack.ingest.url, branch, turns(5, 6))
        assert (await c.post(versions, json={"message": "on b"})).status_code == 201
        bundle = (await c.get(f"/v1/sessions/{branch}/export")).content
        imported = await c.post("/v1/sessions/import", content=bundle)
        assert imported.status_code == 201, imported.text
        answer = imported.json()
        assert answer["versions_not_restored"] == [], answer
        restored = answer["versions_restored"]
        assert sorted((v["message"], v["source_at_seq"], v["at_seq"]) for v in restored) == [
            ("at the fork", 3, 2), ("on b", 5, 4)]
        log = await log_of(stack.ingest.url, answer["session_id"])
        assert [e.event_type for e in log] == ["turn.recorded"] * 4
        for version in restored:
            at = fold(e for e in log if e.seq <= version["at_seq"])
            assert version["content_hash"] == content_hash(at.model_dump(mode="json"))
