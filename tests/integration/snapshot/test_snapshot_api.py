"""Snapshots against real servers: automatic every N, dedupe, list/delete/retention,
restore through ingest, recap determinism, tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from lifeline_events import TOPIC_LIFECYCLE, Event, SessionState, canonical_json, content_hash, fold
from lifeline_snapshot.recap import build_recap
from lifeline_store.compression import decompress
from lifeline_testing.appends import append
from lifeline_testing.oracle import fold_of_log, log_of
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack, projected_state, snapshot_rows
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually


def sid(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def turns(first: int, n: int) -> list[dict[str, Any]]:
    """n turns from turn id `first`, each pinning, confirming a fact and adding an episode."""
    return [{"event_type": "turn.recorded", "turn_id": t, "person_id": "p-1",
             "payload": {"role": "user" if t % 2 else "assistant", "text": f"turn {t} about veneers",
                         "acts": [{"op": "confirm_fact", "key": f"k{t % 3}", "value": t},
                                  {"op": "pin", "id": f"pin{t % 4}", "text": f"pin from turn {t}"},
                                  {"op": "add_episode", "text": f"episode {t}", "salience": (t % 5) / 5},
                                  {"op": "set_objective", "id": f"o{t % 2}", "text": f"goal {t}",
                                   "priority": t % 3}]}}
            for t in range(first, first + n)]


def client(stack: SnapshotStack, key: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(key) if key else auth(), timeout=30)


async def converged(stack: SnapshotStack, session: str) -> dict[str, Any]:
    """Wait until snapshot's folded state equals the fold of ingest's log; return it."""
    async def probe() -> dict[str, Any] | None:
        want = canonical_json(await fold_of_log(stack.ingest.url, session))
        have = await projected_state(stack.database_url, session)
        return have if have is not None and canonical_json(have) == want else None

    return await eventually(probe, timeout=20, what=f"snapshot state of {session} = fold of ingest's log")


async def test_snapshot_every_n_events_and_announced(stack: SnapshotStack) -> None:
    """Every 5th seq is snapshotted with the fold's hash, and each is announced on the lifecycle topic."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 12))
    await converged(stack, session)
    rows = await eventually(lambda: _rows_if(stack, session, 2), what="two periodic snapshots")
    log = await log_of(stack.ingest.url, session)
    assert [(r["at_seq"], r["trigger"]) for r in rows] == [(5, "periodic"), (10, "periodic")]
    assert [r["content_hash"] for r in rows] == [content_hash(fold(log[:5])), content_hash(fold(log[:10]))]

    async def announced() -> list[tuple[Event, str | None]]:
        records = await read_topic(stack.bus_url, TOPIC_LIFECYCLE)
        events = [(Event.from_json(r.value), r.headers.get("traceparent")) for r in records
                  if r.key == session]
        return events if {str(e.event_id) for e, _ in events} >= {r["id"] for r in rows} else []

    events = await eventually(announced, what="snapshot.created for both snapshots")
    first = next(e for e, _ in events if str(e.event_id) == rows[0]["id"])
    assert (first.event_type, first.seq, first.payload.at_seq, first.payload.content_hash) == \
        ("snapshot.created", 5, 5, rows[0]["content_hash"])
    # each announcement carries its own trace, in the body and as the record's header
    assert all(e.traceparent is not None and e.traceparent == header for e, header in events)


async def _rows_if(stack: SnapshotStack, session: str, n: int) -> list[asyncpg.Record]:
    rows = await snapshot_rows(stack.database_url, session)
    return rows if len(rows) >= n else []


async def test_session_finished_takes_a_snapshot(stack: SnapshotStack) -> None:
    """session.finished snapshots the final state even between periodic boundaries."""
    session = sid()
    await append(stack.ingest.url, session, [*turns(1, 3), {"event_type": "session.finished",
                                                             "payload": {"reason": "done"}}])
    rows = await eventually(lambda: _rows_if(stack, session, 1), what="finished snapshot")
    assert [(r["at_seq"], r["trigger"]) for r in rows] == [(4, "finished")]


async def test_on_demand_snapshot_dedupes_by_content_hash(stack: SnapshotStack) -> None:
    """The same state snapshotted twice (or matching a periodic one) is the same row."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 5))
    async with client(stack) as c:
        first = await c.post(f"/v1/sessions/{session}/snapshots", json={"label": "before pricing"})
        again = await c.post(f"/v1/sessions/{session}/snapshots", json={"label": "other"})
        listed = (await c.get(f"/v1/sessions/{session}/snapshots")).json()["snapshots"]
    assert first.status_code in (200, 201) and again.status_code == 200
    assert again.json()["snapshot_id"] == first.json()["snapshot_id"] and again.json()["created"] is False
    assert [s["at_seq"] for s in listed] == [5]
    assert listed[0]["label"] == "before pricing"
    await append(stack.ingest.url, session, turns(6, 1))
    async with client(stack) as c:
        newer = await c.post(f"/v1/sessions/{session}/snapshots", json={})
    assert newer.status_code == 201 and newer.json()["at_seq"] == 6 and newer.json()["trigger"] == "on_demand"


async def test_list_delete_and_errors(stack: SnapshotStack) -> None:
    """List is newest first; delete removes one (then 404); bad labels and unknown sessions are problems."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 10))
    await eventually(lambda: _rows_if(stack, session, 2), what="two snapshots")
    async with client(stack) as c:
        listed = (await c.get(f"/v1/sessions/{session}/snapshots")).json()["snapshots"]
        assert [s["at_seq"] for s in listed] == [10, 5]
        gone = listed[1]["snapshot_id"]
        assert (await c.delete(f"/v1/sessions/{session}/snapshots/{gone}")).status_code == 204
        again = await c.delete(f"/v1/sessions/{session}/snapshots/{gone}")
        assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"
        after = (await c.get(f"/v1/sessions/{session}/snapshots")).json()["snapshots"]
        assert [s["at_seq"] for s in after] == [10]
        bad = await c.post(f"/v1/sessions/{session}/snapshots", json={"label": "x" * 501})
        assert bad.status_code == 422 and "label" in bad.json()["detail"]
        assert (await c.get(f"/v1/sessions/{sid('nobody')}/snapshots")).status_code == 404


async def test_another_tenant_sees_nothing(stack: SnapshotStack) -> None:
    """Another tenant's key gets 404 on every route of a session it does not own."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 5))
    rows = await eventually(lambda: _rows_if(stack, session, 1), what="a snapshot")
    snap = rows[0]["id"]
    async with client(stack, "test-other-tenant") as c:
        answers = [await c.get(f"/v1/sessions/{session}/snapshots"),
                   await c.post(f"/v1/sessions/{session}/snapshots", json={}),
                   await c.get(f"/v1/sessions/{session}/snapshots/{snap}"),
                   await c.delete(f"/v1/sessions/{session}/snapshots/{snap}"),
                   await c.post(f"/v1/sessions/{session}/restore/{snap}"),
                   await c.get(f"/v1/sessions/{session}/recap"),
                   await c.get(f"/v1/sessions/{session}/export"),
                   await c.get(f"/v1/sessions/{session}/wal")]
    assert [a.status_code for a in answers] == [404] * len(answers)
    async with client(stack, "test-read-only") as c:
        assert (await c.post(f"/v1/sessions/{session}/snapshots", json={})).status_code == 403
    async with httpx.AsyncClient(base_url=stack.snapshot.url) as c:
        assert (await c.get(f"/v1/sessions/{session}/snapshots")).status_code == 401


async def test_retention_keeps_the_newest_by_count(stack: SnapshotStack) -> None:
    """With LIFELINE_SNAPSHOT_KEEP=4, only the 4 newest snapshots of a session remain."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 30))
    await converged(stack, session)
    rows = await snapshot_rows(stack.database_url, session)
    assert [r["at_seq"] for r in rows] == [15, 20, 25, 30]


async def test_retention_by_age_runs_periodically(stack: SnapshotStack) -> None:
    """The periodic job deletes snapshots older than LIFELINE_SNAPSHOT_MAX_AGE_DAYS."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 10))
    rows = await eventually(lambda: _rows_if(stack, session, 2), what="two snapshots")
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE snapshot.snapshots SET created_at = now() - interval '31 days' "
                           "WHERE id = $1", rows[0]["id"])
    finally:
        await conn.close()

    async def expired() -> bool:
        return [r["id"] for r in await snapshot_rows(stack.database_url, session)] == [rows[1]["id"]]

    await eventually(expired, what="the 31-day-old snapshot deleted")


async def test_restore_round_trip_through_ingest(stack: SnapshotStack) -> None:
    """Restore appends session.restored: history kept, state = the snapshot's, later events on top."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 7))
    rows = await eventually(lambda: _rows_if(stack, session, 1), what="snapshot at 5")
    async with client(stack) as c:
        snap = (await c.get(f"/v1/sessions/{session}/snapshots/{rows[0]['id']}")).json()
        restored = await c.post(f"/v1/sessions/{session}/restore/{rows[0]['id']}")
    assert restored.status_code == 200 and restored.json()["seq"] == 8
    log = await log_of(stack.ingest.url, session)
    assert [e.event_type for e in log] == ["turn.recorded"] * 7 + ["session.restored"]
    at_restore = SessionState.model_validate(snap["state"]).model_copy(
        update={"seq": 8, "restored_from": rows[0]["id"]})
    assert canonical_json(await fold_of_log(stack.ingest.url, session)) == canonical_json(at_restore)
    await append(stack.ingest.url, session, [{"event_type": "turn.recorded", "turn_id": 100, "payload": {
        "role": "user", "text": "after", "acts": [{"op": "confirm_fact", "key": "late", "value": 1}]}}])
    final = SessionState.model_validate(await converged(stack, session))
    assert final.seq == 9 and final.restored_from == rows[0]["id"]
    assert final.confirmed_facts == {**snap["state"]["confirmed_facts"], "late": 1}
    assert final.pins == at_restore.pins


async def test_restore_of_unknown_or_corrupted_snapshot(stack: SnapshotStack) -> None:
    """Restoring a snapshot that does not exist is 404; one whose state no longer hashes is 409."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 5))
    rows = await eventually(lambda: _rows_if(stack, session, 1), what="a snapshot")
    conn = await asyncpg.connect(stack.database_url)
    try:
        snap = (await conn.fetchrow("SELECT state, state_blob, compression FROM snapshot.snapshots "
                                    "WHERE id = $1", rows[0]["id"]))
        state = orjson.loads(decompress(snap["state_blob"], snap["compression"])
                             if snap["state"] is None else snap["state"])
        await conn.execute("UPDATE snapshot.snapshots SET state = $2::jsonb, state_blob = NULL, "
                           "compression = 'none' WHERE id = $1", rows[0]["id"],
                           orjson.dumps({**state, "stage": "x"}).decode())
    finally:
        await conn.close()
    async with client(stack) as c:
        assert (await c.post(f"/v1/sessions/{session}/restore/nope")).status_code == 404
        corrupted = await c.post(f"/v1/sessions/{session}/restore/{rows[0]['id']}")
    assert corrupted.status_code == 409
    assert len(await log_of(stack.ingest.url, session)) == 5


async def test_recap_is_deterministic_and_matches_the_fold(stack: SnapshotStack) -> None:
    """The recap equals build_recap(fold(ingest's log)) and is byte-identical on every call."""
    session = sid()
    await append(stack.ingest.url, session, turns(1, 9))
    async with client(stack) as c:
        first = await c.get(f"/v1/sessions/{session}/recap", params={"lastTurns": 2})
        second = await c.get(f"/v1/sessions/{session}/recap", params={"lastTurns": 2})
        bad = await c.get(f"/v1/sessions/{session}/recap", params={"lastTurns": -1})
    assert first.content == second.content
    expected = build_recap(await fold_of_log(stack.ingest.url, session), 2)
    body = orjson.loads(first.content)
    assert body["sentences"] == list(expected.sentences) and body["recap"] == expected.text
    assert 2 <= len(body["sentences"]) <= 6
    assert bad.status_code == 422 and "lastTurns" in bad.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/sessions/bad%20id/snapshots", "/v1/sessions/bad%20id/recap"])
async def test_bad_session_id_is_a_problem_naming_the_field(stack: SnapshotStack, path: str) -> None:
    """A session id outside the allowed alphabet answers 422 naming session_id."""
    async with client(stack) as c:
        r = await c.get(path)
    assert r.status_code == 422 and "session_id" in r.json()["detail"]
