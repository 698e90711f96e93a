"""Export/import and the WAL view against real servers: redaction counts, sandbox import,
integrity and size limits, streamed export, WAL published/applied, reconcile."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import orjson

from lifeline_events import canonical_json, fold
from lifeline_events.redaction import KINDS
from lifeline_snapshot import store as snapshot_store
from lifeline_snapshot.export.bundle import validate_bundle
from lifeline_store.compression import CompressionPolicy
from lifeline_testing.appends import append
from lifeline_testing.oracle import fold_of_log, log_of
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack, projected_state, snapshot_rows
from lifeline_testing.waiting import eventually

SECRETS = {
    "email": "alice@example.com", "phone": "+1 (555) 123-4567", "ipv4": "203.0.113.9",
    "ipv6": "2001:db8::42", "api_key": "sk-live-0123456789abcdefXYZ", "bearer_token": "Bearer abcdefgh.ijkl",
    "auth_id": "auth0|5f7c8ec7c33c6c004bbafe82",
}
TEXTS = [f"mail {SECRETS['email']} or call {SECRETS['phone']}",
         f"from {SECRETS['ipv4']} and {SECRETS['ipv6']}, order #4411 on 2025-01-02 for $12.50",
         f"key {SECRETS['api_key']} with header {SECRETS['bearer_token']}",
         f"login {SECRETS['auth_id']}"]


def sid() -> str:
    return f"x-{uuid.uuid4().hex[:10]}"


def turns(texts: list[str], first_turn: int = 11) -> list[dict[str, Any]]:
    return [{"event_type": "turn.recorded", "turn_id": first_turn + i, "person_id": "p-9",
             "payload": {"role": "user", "text": text}} for i, text in enumerate(texts)]


def client(stack: SnapshotStack, key: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(key) if key else auth(), timeout=60)


async def _converged(stack: SnapshotStack, session: str) -> None:
    async def probe() -> bool:
        have = await projected_state(stack.database_url, session)
        return have is not None and canonical_json(have) == canonical_json(
            await fold_of_log(stack.ingest.url, session))

    await eventually(probe, timeout=20, what=f"{session} folded by snapshot")


async def test_export_redacts_every_kind_and_counts(stack: SnapshotStack) -> None:
    """Events and snapshot states are redacted, each kind counted; ordinary text survives."""
    session = sid()
    await append(stack.ingest.url, session, turns(TEXTS))
    async with client(stack) as c:
        assert (await c.post(f"/v1/sessions/{session}/snapshots", json={"label": "call alice@example.com"}
                             )).status_code == 201
        r = await c.get(f"/v1/sessions/{session}/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    bundle = orjson.loads(r.content)
    # each secret once in an event and once in the snapshot's recent turns; the label has one more e-mail
    assert bundle["redactions"] == {**{kind: 2 for kind in KINDS}, "email": 3}
    for secret in SECRETS.values():
        assert secret.split()[-1].encode() not in r.content, secret
    assert b"order #4411 on 2025-01-02 for $12.50" in r.content
    assert [e["seq"] for e in bundle["events"]] == [1, 2, 3, 4] and len(bundle["snapshots"]) == 1
    assert bundle["profile"] is None and bundle["session_id"] == session
    validate_bundle(r.content)


async def test_import_creates_a_sandbox_session(stack: SnapshotStack) -> None:
    """Import validates and replays the bundle into a new sandbox session; turn ids are renumbered
    unless preserveTurnId is set; the sandbox folds like any session."""
    session = sid()
    await append(stack.ingest.url, session, turns(TEXTS))
    async with client(stack) as c:
        exported = (await c.get(f"/v1/sessions/{session}/export")).content
        plain = await c.post("/v1/sessions/import", content=exported)
        kept = await c.post("/v1/sessions/import", params={"preserveTurnId": "true"}, content=exported)
    assert plain.status_code == kept.status_code == 201
    sandbox, sandbox_kept = plain.json()["session_id"], kept.json()["session_id"]
    assert sandbox.startswith("sandbox-") and sandbox != sandbox_kept and plain.json()["events"] == 4
    log = await log_of(stack.ingest.url, sandbox)
    assert [e.turn_id for e in log] == [1, 2, 3, 4]
    assert [e.turn_id for e in await log_of(stack.ingest.url, sandbox_kept)] == [11, 12, 13, 14]
    assert log[0].payload.text == "mail [redacted:email] or call [redacted:phone]"
    await _converged(stack, sandbox)


async def test_import_refuses_a_tampered_bundle(stack: SnapshotStack) -> None:
    """A bundle edited after export fails its hash check (422 naming the section); nothing is created."""
    session = sid()
    await append(stack.ingest.url, session, turns(TEXTS[:2]))
    async with client(stack) as c:
        bundle = orjson.loads((await c.get(f"/v1/sessions/{session}/export")).content)
        bundle["events"][0]["payload"]["text"] = "I never said that"
        before = await _session_count(stack)
        r = await c.post("/v1/sessions/import", content=orjson.dumps(bundle))
        broken = await c.post("/v1/sessions/import", content=b'{"format": "lifeline.session-export"')
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["hashes.events"]
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "body"
    assert await _session_count(stack) == before


async def _session_count(stack: SnapshotStack) -> int:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ingest.sessions"))
    finally:
        await conn.close()


async def test_import_over_the_size_limit_is_413(stack: SnapshotStack) -> None:
    """A bundle over LIFELINE_EXPORT_MAX_MB (1 MB here) is refused with 413, declared or streamed."""
    big = b'{"pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'

    async def chunks() -> Any:
        for i in range(0, len(big), 65536):
            yield big[i: i + 65536]

    async with client(stack) as c:
        declared = await c.post("/v1/sessions/import", content=big)
        streamed = await c.post("/v1/sessions/import", content=chunks())
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["title"] == "Bundle too large"


async def test_large_export_streams_from_ingest_pages(stack: SnapshotStack) -> None:
    """Over 40 events the export is streamed (chunked, pages of 25 from ingest) and still validates."""
    session = sid()
    texts = [f"turn {i} mail bob{i}@example.com" for i in range(100)]
    await append(stack.ingest.url, session, turns(texts))
    async with client(stack) as c, c.stream("GET", f"/v1/sessions/{session}/export") as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        assert r.headers["x-lifeline-events"] == "100"
        body = b"".join([chunk async for chunk in r.aiter_bytes()])  # decoded: httpx asks for zstd
    raw, events = validate_bundle(body)
    assert [e.seq for e in events] == list(range(1, 101))
    assert raw["redactions"]["email"] >= 100


async def test_wal_view_shows_published_and_applied(stack: SnapshotStack) -> None:
    """Each event is published and applied by snapshot; replay, unreachable here, is unknown (null)."""
    session = sid()
    await append(stack.ingest.url, session, turns(TEXTS))
    await _converged(stack, session)
    async with client(stack) as c:
        r = await c.get(f"/v1/sessions/{session}/wal", params={"limit": 3})
        rest = await c.get(f"/v1/sessions/{session}/wal", params={"after_seq": 3})
    body = r.json()
    assert r.status_code == 200 and body["last_seq"] == 4 and body["next_after_seq"] == 3
    assert [(e["seq"], e["published"], e["applied"]) for e in body["entries"]] == \
        [(s, True, {"snapshot": True, "replay": None}) for s in (1, 2, 3)]
    assert body["projections"]["replay"] == {"status": "unreachable", "last_seq": None}
    assert body["lag"] == {"snapshot": 0, "replay": None}
    assert [e["seq"] for e in rest.json()["entries"]] == [4]


async def _roll_back_projection(stack: SnapshotStack, session: str, to_seq: int) -> None:
    """Put snapshot's checkpoint and folded state back to `to_seq`, as if it had lagged."""
    state = fold((await log_of(stack.ingest.url, session))[:to_seq])
    conn = await asyncpg.connect(stack.database_url)
    try:
        async with conn.transaction():
            await conn.execute("UPDATE snapshot.checkpoints SET last_seq = $2 WHERE session_id = $1",
                               session, to_seq)
            await snapshot_store.save_states(conn, [("default", session, to_seq, canonical_json(state))],
                                             CompressionPolicy())
    finally:
        await conn.close()


async def test_reconcile_reports_then_repairs_a_lagging_projection(stack: SnapshotStack) -> None:
    """Dry run (default) reports the lag; dry_run=false (admin) has ingest re-publish and snapshot
    catches up without duplicating snapshots."""
    session = sid()
    await append(stack.ingest.url, session, turns([f"t{i}" for i in range(12)]))
    await _converged(stack, session)
    before = [r["id"] for r in await snapshot_rows(stack.database_url, session)]
    await _roll_back_projection(stack, session, to_seq=3)
    async with client(stack) as c:
        dry = (await c.post(f"/v1/sessions/{session}/wal/reconcile")).json()
        assert dry["plan"] == {"needed": True, "from_seq": 4, "reasons": {"unapplied:snapshot": 4}}
        assert dry["repair"] is None and dry["lag"]["snapshot"] == 9
        async with client(stack, "test-read-only") as ro:
            refused = await ro.post(f"/v1/sessions/{session}/wal/reconcile", json={"dry_run": False})
        assert refused.status_code == 403
        fixed = (await c.post(f"/v1/sessions/{session}/wal/reconcile", json={"dry_run": False})).json()
        assert fixed["repair"]["requeued"] == 9

        async def caught_up() -> bool:
            again = (await c.post(f"/v1/sessions/{session}/wal/reconcile")).json()
            return again["plan"]["needed"] is False and again["lag"]["snapshot"] == 0

        await eventually(caught_up, timeout=20, what="snapshot re-applied the re-published events")
    await _converged(stack, session)
    assert [r["id"] for r in await snapshot_rows(stack.database_url, session)] == before
