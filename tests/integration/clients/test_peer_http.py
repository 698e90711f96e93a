"""The peer clients' transport against a real HTTP server on a socket.

What the services rely on: statuses and bodies as the peer sent them, a refusal
carrying the peer's problem document, no answer (refused connection, timeout) as
`PeerUnavailableError`, query parameters and headers as given, and uncompressed answers
asked for (a peer would otherwise compress every WAL page it sends).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from lifeline_clients import IngestClient, PeerRefusedError, PeerUnavailableError
from lifeline_clients._http import PeerHttp
from lifeline_servers import free_port


class Peer:
    """A real aiohttp server; records each request it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                          "headers": dict(request.headers), "body": body})
        session = request.match_info.get("session", "")
        if request.path == "/slow":
            await asyncio.sleep(2)
        if session == "missing":
            return web.json_response({"title": "Not found"}, status=404)
        if session == "forbidden":
            return web.json_response({"title": "Forbidden"}, status=403)
        if session == "broken":
            return web.Response(status=500, text="boom")
        if session == "refused":
            return web.json_response({"title": "Unprocessable", "detail": "seq must be positive",
                                      "errors": [{"loc": "seq"}], "other": 1}, status=422)
        if session == "notjson":
            return web.Response(status=409, text="<html>conflict</html>")
        if request.method == "POST":
            return web.json_response({"results": [{"event_id": "e-1", "seq": 1, "duplicate": False}]})
        return web.json_response({"last_seq": 41, "events": []})


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    peer = Peer()
    app = web.Application()
    app.router.add_route("*", "/v1/sessions/{session}", peer.handle)
    app.router.add_route("*", "/v1/sessions/{session}/events", peer.handle)
    app.router.add_route("*", "/slow", peer.handle)
    app.router.add_route("GET", "/health", peer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    peer.url = f"http://127.0.0.1:{port}/"
    yield peer
    await runner.cleanup()


async def test_a_read_carries_key_tenant_and_params_and_asks_for_no_compression(peer: Peer) -> None:
    client = IngestClient(peer.url, "svc-key")
    try:
        assert await client.last_seq("tenant-a", "s-1") == 41
        assert await client.events_page("tenant-a", "s-1", after_seq=7, limit=3) == []
    finally:
        await client.aclose()
    first, second = peer.seen
    assert first["path"] == "/v1/sessions/s-1" and first["query"] == {"tenant_id": "tenant-a"}
    assert first["headers"]["Authorization"] == "Bearer svc-key"
    assert first["headers"]["Accept-Encoding"] == "identity"
    assert second["query"] == {"after_seq": "7", "limit": "3", "tenant_id": "tenant-a"}


async def test_statuses_map_to_none_unavailable_or_refused(peer: Peer) -> None:
    client = IngestClient(peer.url, "svc-key")
    try:
        assert await client.last_seq("t", "missing") is None
        with pytest.raises(PeerUnavailableError, match="rejected the service key \\(403"):
            await client.last_seq("t", "forbidden")
        with pytest.raises(PeerUnavailableError, match="answered 500"):
            await client.last_seq("t", "broken")
        with pytest.raises(PeerRefusedError) as refused:
            await client.last_seq("t", "refused")
        assert refused.value.status == 422 and refused.value.title == "Unprocessable"
        assert "seq must be positive" in refused.value.detail
        assert refused.value.extra == {"errors": [{"loc": "seq"}]}
        with pytest.raises(PeerRefusedError) as not_json:
            await client.append("notjson", {"events": []}, "Bearer caller")
        assert not_json.value.status == 409 and "<html>conflict</html>" in not_json.value.detail
    finally:
        await client.aclose()


async def test_an_append_sends_the_callers_key_and_the_json_body(peer: Peer) -> None:
    client = IngestClient(peer.url, "svc-key")
    try:
        results = await client.append("s-2", {"events": [{"event_type": "turn.recorded"}]}, "Bearer caller")
    finally:
        await client.aclose()
    assert results == [{"event_id": "e-1", "seq": 1, "duplicate": False}]
    (sent,) = peer.seen
    assert sent["method"] == "POST" and sent["headers"]["Authorization"] == "Bearer caller"
    assert orjson.loads(sent["body"]) == {"events": [{"event_type": "turn.recorded"}]}


async def test_no_answer_is_unavailable_never_a_hang() -> None:
    closed = PeerHttp("ingest", f"http://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        with pytest.raises(PeerUnavailableError, match="ingest unreachable \\(probe\\)"):
            await closed.request("GET", "/v1/sessions/x", "probe")
        assert await closed.ping() is False
    finally:
        await closed.aclose()


async def test_a_slow_peer_times_out_as_unavailable(peer: Peer) -> None:
    slow = PeerHttp("memory", peer.url, timeout=0.3)
    try:
        with pytest.raises(PeerUnavailableError, match="memory unreachable"):
            await slow.request("GET", "/slow", "slow read")
        assert await slow.ping() is True  # the session is still usable after a timeout
    finally:
        await slow.aclose()


async def test_json_of_a_body_that_is_not_json_is_a_value_error(peer: Peer) -> None:
    http = PeerHttp("ingest", peer.url, timeout=2.0)
    try:
        r = await http.request("GET", "/v1/sessions/notjson", "read")
    finally:
        await http.aclose()
    assert r.status_code == 409 and r.text == "<html>conflict</html>"
    with pytest.raises(ValueError):
        r.json()
