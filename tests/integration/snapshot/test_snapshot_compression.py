"""Compression and MessagePack against a real snapshot process on real PostgreSQL: states stored
compressed with their algorithm recorded, old and other-algorithm rows still readable, damaged
bytes refused, HTTP answers encoded as Accept-Encoding asks, msgpack export→import exact."""

from __future__ import annotations

import gzip
import uuid
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import msgpack
import orjson

from lifeline_events import canonical_json, content_hash
from lifeline_snapshot.domain import draft
from lifeline_snapshot.export.bundle import validate_bundle
from lifeline_snapshot.store import insert_snapshot
from lifeline_store.compression import CompressionPolicy, decompress
from lifeline_testing.appends import append
from lifeline_testing.oracle import fold_of_log, log_of
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack, projected_state
from lifeline_testing.waiting import eventually


def sid() -> str:
    return f"z-{uuid.uuid4().hex[:10]}"


def turns(n: int) -> list[dict[str, Any]]:
    """n turns that confirm facts and set objectives: a state of a few kB."""
    return [{"event_type": "turn.recorded", "turn_id": t, "person_id": "p-3",
             "payload": {"role": "user" if t % 2 else "assistant",
                         "text": f"turn {t}: the party enters the ruined keep looking for the relic",
                         "acts": [{"op": "confirm_fact", "key": f"npc{t % 7}", "value": f"met on turn {t}"},
                                  {"op": "set_objective", "id": f"o{t % 3}", "text": f"find relic {t}",
                                   "priority": t % 3}]}}
            for t in range(1, n + 1)]


def client(stack: SnapshotStack, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.snapshot.url, headers={**auth(), **headers}, timeout=30)


async def _converged(stack: SnapshotStack, session: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        have = await projected_state(stack.database_url, session)
        want = canonical_json(await fold_of_log(stack.ingest.url, session))
        return have if have is not None and canonical_json(have) == want else None

    return await eventually(probe, timeout=20, what=f"{session} folded by snapshot")


async def _row(stack: SnapshotStack, snapshot_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetchrow("SELECT state, state_blob, compression, person_id, content_hash "
                                   "FROM snapshot.snapshots WHERE id = $1", snapshot_id)
    finally:
        await conn.close()


async def _session_with_snapshot(stack: SnapshotStack, n: int = 8) -> tuple[str, dict[str, Any]]:
    session = sid()
    await append(stack.ingest.url, session, turns(n))
    await _converged(stack, session)
    async with client(stack) as c:
        taken = await c.post(f"/v1/sessions/{session}/snapshots", json={"label": "before the keep"})
    assert taken.status_code in (200, 201), taken.text
    return session, taken.json()


async def test_stored_state_is_compressed_with_its_algorithm_recorded(stack: SnapshotStack) -> None:
    """A state over LIFELINE_COMPRESS_MIN_BYTES is stored as zstd bytes (the default), recorded as
    'zstd'; they decompress to the canonical JSON the content hash is over, and the API serves it."""
    session, snap = await _session_with_snapshot(stack)
    row = await _row(stack, snap["snapshot_id"])
    assert row["compression"] == "zstd" and row["state"] is None and row["person_id"] == "p-3"
    plain = decompress(row["state_blob"], "zstd")
    assert len(row["state_blob"]) < len(plain) and len(plain) >= 1024
    state = await fold_of_log(stack.ingest.url, session)
    assert plain == canonical_json(state) and row["content_hash"] == content_hash(state)
    async with client(stack) as c:
        served = (await c.get(f"/v1/sessions/{session}/snapshots/{snap['snapshot_id']}")).json()
    assert canonical_json(served["state"]) == plain


async def test_old_plain_rows_and_gzip_rows_stay_readable_under_zstd(stack: SnapshotStack) -> None:
    """A row from before compression (jsonb, no algorithm) and one stored by a process set to gzip
    are served, exported and restored by today's zstd process, every hash still verifying."""
    session, _ = await _session_with_snapshot(stack, n=6)
    state = await fold_of_log(stack.ingest.url, session)
    older = {**state.model_dump(mode="json"), "stage": "older"}
    gzipped = {**state.model_dump(mode="json"), "stage": "gzipped"}
    conn = await asyncpg.connect(stack.database_url)
    try:
        old_id, gzip_id = str(uuid.uuid4()), str(uuid.uuid4())
        await conn.execute(  # exactly the insert of the code before migration 002
            "INSERT INTO snapshot.snapshots (id, tenant_id, session_id, at_seq, content_hash, state, "
            "trigger) VALUES ($1, 'default', $2, 2, $3, $4::jsonb, 'periodic')",
            old_id, session, content_hash(older), orjson.dumps(older).decode())
        gzip_draft = replace(draft(gzipped, "on_demand", "written under gzip"), id=gzip_id)
        async with conn.transaction():
            await insert_snapshot(conn, "default", session, gzip_draft, CompressionPolicy("gzip", 0))
    finally:
        await conn.close()
    assert (await _row(stack, old_id))["compression"] == "none"
    gz = await _row(stack, gzip_id)
    assert gz["compression"] == "gzip" and gzip.decompress(gz["state_blob"]) == canonical_json(gzipped)
    async with client(stack) as c:
        old = (await c.get(f"/v1/sessions/{session}/snapshots/{old_id}")).json()
        by_gzip = (await c.get(f"/v1/sessions/{session}/snapshots/{gzip_id}")).json()
        bundle = await c.get(f"/v1/sessions/{session}/export")
        restored = await c.post(f"/v1/sessions/{session}/restore/{gzip_id}")
    assert old["state"] == older and by_gzip["state"] == gzipped
    raw, _ = validate_bundle(bundle.content)
    assert {s["snapshot_id"] for s in raw["snapshots"]} >= {old_id, gzip_id}
    assert restored.status_code == 200, restored.text
    assert (await log_of(stack.ingest.url, session))[-1].event_type == "session.restored"


async def test_damaged_compressed_bytes_are_a_clear_409(stack: SnapshotStack) -> None:
    """Bytes that no longer decompress are answered 409 naming the algorithm, never a 500 or a null state."""
    session, snap = await _session_with_snapshot(stack, n=5)
    row = await _row(stack, snap["snapshot_id"])
    damaged = bytearray(row["state_blob"])
    damaged[len(damaged) // 2] ^= 0xFF
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE snapshot.snapshots SET state_blob = $2 WHERE id = $1",
                           snap["snapshot_id"], bytes(damaged))
    finally:
        await conn.close()
    async with client(stack) as c:
        got = await c.get(f"/v1/sessions/{session}/snapshots/{snap['snapshot_id']}")
        restored = await c.post(f"/v1/sessions/{session}/restore/{snap['snapshot_id']}")
    assert got.status_code == restored.status_code == 409
    assert got.json()["title"] == "Stored data corrupted"
    assert "recorded as zstd are corrupted" in got.json()["detail"]
    assert snap["snapshot_id"] in got.json()["detail"]


async def test_http_answers_honour_accept_encoding(stack: SnapshotStack) -> None:
    """gzip, zstd or br as asked above the threshold, streamed exports too; identity when not asked;
    small answers and /metrics stay readable."""
    session = sid()
    await append(stack.ingest.url, session, turns(60))  # over 40 events: the export streams
    answers = {}
    for encoding in ("gzip", "zstd", "br", "identity"):
        async with client(stack, **{"Accept-Encoding": encoding}) as c:
            r = await c.get(f"/v1/sessions/{session}/export")
            answers[encoding] = (r.headers.get("content-encoding"), r.headers.get("vary", ""), r.content)
    async with client(stack, **{"Accept-Encoding": "gzip"}) as c, \
            c.stream("GET", f"/v1/sessions/{session}/export") as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    async with client(stack, **{"Accept-Encoding": "gzip"}) as c:
        health = await c.get("/health")
        metrics = await c.get("/metrics")
    assert [answers[e][0] for e in ("gzip", "zstd", "br", "identity")] == ["gzip", "zstd", "br", None]
    assert all("accept-encoding" in answers[e][1].lower() for e in ("gzip", "zstd", "br"))
    bodies = {e: validate_bundle(answers[e][2])[0] for e in answers}
    assert all(len(b["events"]) == 60 for b in bodies.values())
    assert gzip.decompress(raw) and validate_bundle(gzip.decompress(raw))[0]["last_seq"] == 60
    assert health.headers.get("content-encoding") is None and health.json()["status"] == "ok"
    assert metrics.status_code == 200 and metrics.headers["content-encoding"] == "gzip"
    assert b"# TYPE" in metrics.content


async def test_msgpack_export_imports_exactly(stack: SnapshotStack) -> None:
    """Accept: application/msgpack gives the JSON bundle's document packed; importing it with
    Content-Type: application/msgpack replays the same events; a broken body is a 422 naming it."""
    session, _ = await _session_with_snapshot(stack, n=7)
    async with client(stack) as c:
        as_json = await c.get(f"/v1/sessions/{session}/export")
        packed = await c.get(f"/v1/sessions/{session}/export", headers={"Accept": "application/msgpack"})
        imported = await c.post("/v1/sessions/import", content=packed.content,
                                params={"preserveTurnId": "true"},
                                headers={"Content-Type": "application/msgpack"})
        broken = await c.post("/v1/sessions/import", content=b"\xc1\x00",
                              headers={"Content-Type": "application/msgpack"})
    assert packed.status_code == 200 and packed.headers["content-type"] == "application/msgpack"
    assert "lifeline.msgpack" in packed.headers["content-disposition"]
    document = msgpack.unpackb(packed.content)
    expected = orjson.loads(as_json.content)
    assert {**document, "exported_at": None} == {**expected, "exported_at": None}
    assert imported.status_code == 201, imported.text
    sandbox = imported.json()["session_id"]
    original, copy = await log_of(stack.ingest.url, session), await log_of(stack.ingest.url, sandbox)
    assert [(e.event_type, e.turn_id, e.payload) for e in copy] == \
        [(e.event_type, e.turn_id, e.payload) for e in original]
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "body"
    assert "not MessagePack" in broken.json()["errors"][0]["msg"]
