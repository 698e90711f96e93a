"""Process-level behaviour of the snapshot service: graceful SIGTERM, the profile in exports
(from a memory service), and the periodic job's count retention."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
import orjson
import pytest

from lifeline_servers import free_port
from lifeline_testing.appends import append
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.snapshot_stack import SnapshotStack, snapshot_process, snapshot_rows
from lifeline_testing.waiting import eventually

PROFILE = {"person_id": "p-9", "summary": "prefers e-mail: zed@example.com", "top_errors": ["late"]}


@pytest.fixture
def memory_stub() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for the memory service's profile endpoint; records the Authorization it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            found = self.path == "/v1/persons/p-9/profile"
            body = json.dumps(PROFILE if found else {"title": "Not found"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


async def test_export_includes_the_redacted_profile(stack: SnapshotStack, memory_stub, tmp_path) -> None:
    """With LIFELINE_MEMORY_URL set, the export carries the person's profile, redacted and hashed,
    fetched with the caller's own key."""
    memory_url, seen = memory_stub
    session = f"m-{uuid.uuid4().hex[:8]}"
    turn = {"event_type": "turn.recorded", "turn_id": 1, "person_id": "p-9",
            "payload": {"role": "user", "text": "hello"}}
    await append(stack.ingest.url, session, [turn])
    proc = snapshot_process(stack.database_url, stack.bus_url, stack.ingest.url, tmp_path,
                            memory_url=memory_url)
    await asyncio.to_thread(proc.start)
    try:
        async with httpx.AsyncClient(base_url=proc.url, headers=auth(), timeout=30) as c:
            await eventually(lambda: _known(c, session), what="the session folded")
            bundle = orjson.loads((await c.get(f"/v1/sessions/{session}/export")).content)
    finally:
        await asyncio.to_thread(proc.kill)
    assert bundle["profile"] == {**PROFILE, "summary": "prefers e-mail: [redacted:email]"}
    assert {k: v for k, v in bundle["redactions"].items() if v} == {"email": 1}
    assert seen == [f"Bearer {TEST_API_KEY}"]


async def _known(c: httpx.AsyncClient, session: str) -> bool:
    return (await c.get(f"/v1/sessions/{session}/snapshots")).status_code == 200


async def test_sigterm_drains_and_exits_cleanly(stack: SnapshotStack, tmp_path) -> None:
    """SIGTERM stops the consumer, closes the pool and exits within the grace period."""
    proc = snapshot_process(stack.database_url, stack.bus_url, stack.ingest.url, tmp_path)
    await asyncio.to_thread(proc.start)
    code = await asyncio.to_thread(proc.terminate, 20)
    # uvicorn re-raises the signal once its shutdown is complete: ended by SIGTERM, not crashed
    assert code in (0, -signal.SIGTERM), proc.tail()
    assert '"shutdown.done"' in proc.tail(80)


async def test_periodic_job_applies_count_retention(stack: SnapshotStack) -> None:
    """Snapshots beyond LIFELINE_SNAPSHOT_KEEP (4), however they got there, are trimmed periodically."""
    session = f"r-{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(stack.database_url)
    try:
        for seq in range(1, 7):
            digest = hashlib.sha256(f"{session}{seq}".encode()).hexdigest()
            await conn.execute(
                "INSERT INTO snapshot.snapshots (id, tenant_id, session_id, at_seq, content_hash, state, "
                "trigger) VALUES ($1, 'default', $2, $3, $4, '{}'::jsonb, 'periodic')",
                str(uuid.uuid4()), session, seq, digest)
    finally:
        await conn.close()

    async def trimmed() -> bool:
        return [r["at_seq"] for r in await snapshot_rows(stack.database_url, session)] == [3, 4, 5, 6]

    await eventually(trimmed, what="the 4 newest snapshots kept")


async def test_readiness_reports_a_rejected_service_key_as_degraded(stack: SnapshotStack, tmp_path) -> None:
    """/ready stays up (the fold runs from the bus) but names ingest refusing the service key."""
    proc = snapshot_process(stack.database_url, stack.bus_url, stack.ingest.url, tmp_path,
                            service_api_key="not-a-key")
    await asyncio.to_thread(proc.start)
    try:
        async with httpx.AsyncClient(base_url=proc.url) as c:
            body = (await c.get("/ready")).json()
        async with httpx.AsyncClient(base_url=stack.snapshot.url) as c:
            healthy = (await c.get("/ready")).json()
    finally:
        await asyncio.to_thread(proc.kill)
    assert body["status"] == "degraded" and body["degraded"] == ["ingest"]
    assert "refuses the service key (401)" in body["checks"]["ingest"]["detail"]
    assert healthy["status"] == "ready" and all(c["ok"] for c in healthy["checks"].values())
