"""Conversations, oracles and WebSocket readers shared by replay's integration tests."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from lifeline_events import canonical_json
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.oracle import fold_of_log
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.replay_stack import replay_state
from lifeline_testing.waiting import eventually


def new_session(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def turns(first: int, count: int, intent: str = "booking") -> list[dict[str, Any]]:
    """Alternating user/assistant turns with a few acts, turn ids first..first+count-1."""
    out = []
    for t in range(first, first + count):
        acts = [{"op": "confirm_fact", "key": f"k{t % 4}", "value": t}]
        if t % 3 == 0:
            acts.append({"op": "pin", "id": f"p{t % 5}", "text": f"pinned at {t}"})
        out.append(turn(t, f"Turn {t}: about veneers and the price.", role="user" if t % 2 else "assistant",
                        intent=intent, acts=acts))
    return out


async def assert_state_matches_log(http: httpx.AsyncClient, replay_url: str, ingest_url: str, session: str,
                                   min_seq: int, key: str = TEST_API_KEY) -> dict[str, Any]:
    """replay's state (read-your-writes at `min_seq`) is byte-equal to the fold of ingest's log."""
    r = await replay_state(http, replay_url, session, min_seq=min_seq, key=key)
    assert r.status_code == 200, r.text
    body = r.json()
    truth = await fold_of_log(ingest_url, session, key)
    assert canonical_json(body["state"]) == canonical_json(truth)
    return body


async def wait_mode(http: httpx.AsyncClient, replay_url: str, session: str, mode: str, seq: int = 0,
                    timeout: float = 20) -> dict[str, Any]:
    """Wait until GET state answers in `mode` at `seq` or later; on timeout, say what it last answered."""
    seen: list[str] = [""]

    async def probe() -> dict[str, Any] | None:
        r = await replay_state(http, replay_url, session)
        if r.status_code != 200:
            seen[0] = f"{r.status_code} {r.text[:300]}"
            return None
        body = r.json()
        seen[0] = f"200 seq {body['seq']} mode {body['mode']} stale {body.get('stale')}"
        return body if body["mode"] == mode and body["seq"] >= seq else None

    try:
        return await eventually(probe, timeout=timeout, what=f"state of {session} at {seq}+ in mode {mode}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {replay_url} last answered: {seen[0]}") from None


async def post_turns(http: httpx.AsyncClient, ingest_url: str, session: str, first: int, count: int) -> int:
    """Append turns; return the last seq."""
    return int((await append(ingest_url, session, turns(first, count)))[-1]["seq"])


def ws_url(replay_url: str, session: str, query: str = "") -> str:
    base = replay_url.replace("http://", "ws://") + f"/v1/sessions/{session}/ws"
    return f"{base}?{query}" if query else base


def open_ws(replay_url: str, session: str, query: str = "", key: str | None = TEST_API_KEY,
            **kwargs: Any) -> Any:
    headers = auth(key) if key else None
    return connect(ws_url(replay_url, session, query), additional_headers=headers, open_timeout=10, **kwargs)


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_events_until(ws: ClientConnection, last_seq: int, timeout: float = 15) -> list[int]:
    """Sequence numbers of EVENT messages received until `last_seq` arrives."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < last_seq:
        message = await recv(ws, timeout)
        assert message["type"] == "EVENT", message
        assert message["event"]["seq"] == message["seq"]
        seqs.append(message["seq"])
    return seqs


class FakeMemory:
    """A stand-in memory service (another team's, not a database): answers every
    request with `body` and records the request lines it saw."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = orjson.dumps(body)
        self.requests: list[str] = []
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> FakeMemory:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head.split(b"\r\n", 1)[0].decode())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     + f"Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body)
        await writer.drain()
        writer.close()
