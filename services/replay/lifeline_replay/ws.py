"""`/v1/sessions/{id}/ws`: RECOVERY_SYNC first, then every new event of the session.

Auth as on HTTP (`Authorization: Bearer`), or, for browsers, a `bearer.<key>`
entry in `Sec-WebSocket-Protocol` (offer `lifeline.v1` beside it; it is the one
echoed back) or `?api_key=`. Refusals are sent as an ERROR message, then a close
code: 4400 bad request, 4401 no/unknown key, 4403 missing scope, 4404 no such session
for this tenant, 4503 nothing could recover it, 1013 too many connections.

With `?last_seq=N` the client gets exactly the events after N (after the sync);
without it, the events after the sync's `seq`. Either way, no gap and no duplicate —
unless events can be read from neither Redis nor ingest's log, in which case a newer
RECOVERY_SYNC (the state including them) is sent in their place.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from lifeline_common.errors import LifelineError, TransientError
from lifeline_replay.deps import Deps, ReplayDeps
from lifeline_replay.domain import error_message, event_message, recovery_sync
from lifeline_replay.errors import GapError, SessionNotFoundError
from lifeline_replay.live import LiveFeed
from lifeline_replay.metrics import WS_CONNECTIONS, WS_EVENTS
from lifeline_replay.recovery import Recovered
from lifeline_replay.redacting import redact_message
from lifeline_servicekit import ID_PATTERN, MAX_INT64, Principal
from lifeline_servicekit.auth import has_scope, principal_for
from lifeline_servicekit.persons import sees_person

router = APIRouter()
log = structlog.get_logger("lifeline.replay.ws")
_SESSION = re.compile(ID_PATTERN)
PROTOCOL = "lifeline.v1"
_BEARER = "bearer."


class Refused(Exception):
    def __init__(self, code: int, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.status, self.title, self.detail = code, status, title, detail


def _offered_key(ws: WebSocket) -> tuple[str | None, str | None]:
    """(api key, subprotocol to echo) from the header, a `bearer.` subprotocol or ?api_key=."""
    offered = list(ws.scope.get("subprotocols") or [])
    from_protocol = next((p[len(_BEARER):] for p in offered if p.startswith(_BEARER)), None)
    echo = PROTOCOL if PROTOCOL in offered else next((p for p in offered if p.startswith(_BEARER)), None)
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), echo
    return ws.headers.get("x-api-key") or from_protocol or ws.query_params.get("api_key"), echo


def _principal(deps: ReplayDeps, token: str | None) -> Principal:
    if not token:
        raise Refused(4401, 401, "Unauthorized", "missing API key: Authorization header, "
                      "'bearer.<key>' subprotocol or ?api_key=")
    principal = principal_for(deps.settings.api_keys, token)
    if principal is None:
        raise Refused(4401, 401, "Unauthorized", "unknown API key")
    if not has_scope(principal, "read"):
        raise Refused(4403, 403, "Forbidden", "this API key lacks the 'read' scope")
    return principal


def _last_seq(ws: WebSocket) -> int | None:
    raw = ws.query_params.get("last_seq")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > MAX_INT64:
        raise Refused(4400, 422, "Invalid request", f"last_seq: must be a non-negative integer, got {raw!r}")
    return int(raw)


async def _recover(deps: ReplayDeps, tenant: str, session: str) -> Recovered:
    try:
        return await deps.recovery.recover(tenant, session)
    except SessionNotFoundError as exc:
        raise Refused(4404, 404, "Session not found", str(exc)) from exc
    except TransientError as exc:
        raise Refused(4503, 503, "Dependency unavailable", str(exc)) from exc


async def _send(ws: WebSocket, deps: ReplayDeps, body: bytes) -> None:
    if ws.query_params.get("redact") == "true":  # RECOVERY_SYNC and every event, as the context
        body = redact_message(body)
    await asyncio.wait_for(ws.send_text(body.decode()), deps.settings.ws_send_timeout_s)


async def _send_sync(ws: WebSocket, deps: ReplayDeps, session: str, found: Recovered) -> None:
    stale = found.staleness()
    await _send(ws, deps, recovery_sync(found.state(), session_id=session, seq=found.seq, mode=found.mode,
                                  stale=stale, profile=found.profile))


async def _stream(ws: WebSocket, deps: ReplayDeps, feed: LiveFeed, tenant: str, session: str,
                  cursor: int) -> None:
    """Send events after `cursor` until the client leaves; resync when a gap cannot be filled."""
    while True:
        try:
            batch = await feed.next(cursor)
        except GapError as exc:
            log.warning("ws.gap_unfillable", session_id=session, cursor=cursor, error=str(exc))
            cursor = await _resync(ws, deps, tenant, session, cursor)
            continue
        for seq, body in batch:
            await _send(ws, deps, event_message(seq, body))
            cursor = seq
        WS_EVENTS.inc(len(batch))


async def _resync(ws: WebSocket, deps: ReplayDeps, tenant: str, session: str, cursor: int) -> int:
    """Events after `cursor` are unreadable (Redis trimmed or lost them, ingest is away): a
    fresh RECOVERY_SYNC stands in for them if it is newer; else wait. Returns the cursor."""
    try:
        found = await deps.recovery.recover(tenant, session)
    except LifelineError:
        found = None
    if found is None or found.seq <= cursor:
        await asyncio.sleep(deps.settings.ws_log_poll_s)
        return cursor
    await _send_sync(ws, deps, session, found)
    return found.seq


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _serve(ws: WebSocket, deps: ReplayDeps, session: str) -> None:
    principal = _principal(deps, _offered_key(ws)[0])
    if not _SESSION.match(session):
        raise Refused(4400, 422, "Invalid request", f"session_id: must match {ID_PATTERN}")
    last_seq = _last_seq(ws)
    found = await _recover(deps, principal.tenant, session)
    if principal.persons is not None and not sees_person(principal, found.model().person_id):
        raise Refused(4404, 404, "Session not found", f"no session {session!r} for this tenant")
    await _send_sync(ws, deps, session, found)
    feed = LiveFeed(deps.hot, deps.ingest, principal.tenant, session, block_ms=deps.settings.ws_block_ms,
                    poll_s=deps.settings.ws_log_poll_s)
    cursor = found.seq if last_seq is None else last_seq
    while cursor < found.seq:
        try:
            batch = await feed.backlog(cursor, found.seq)
        except GapError as exc:  # the sync just sent stands in for the events we cannot read
            log.warning("ws.backlog_unreadable", session_id=session, cursor=cursor, error=str(exc))
            cursor = found.seq
            break
        for seq, body in batch:
            await _send(ws, deps, event_message(seq, body))
            cursor = seq
    await _stream(ws, deps, feed, principal.tenant, session, cursor)


@router.websocket("/v1/sessions/{session_id}/ws")
async def session_ws(ws: WebSocket, deps: Deps, session_id: str) -> None:
    await ws.accept(subprotocol=_offered_key(ws)[1])
    if deps.ws_open >= deps.settings.ws_max_connections:
        await ws.send_text(error_message(503, "Too many connections", "retry later").decode())
        await ws.close(1013)
        return
    deps.ws_open += 1
    WS_CONNECTIONS.inc()
    structlog.contextvars.bind_contextvars(session_id=session_id)
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(_serve(ws, deps, session_id)),
                                      asyncio.create_task(_drain(ws))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0] in done and tasks[1] not in done:  # not the client leaving: say why
            await _finish(ws, tasks[0])
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        deps.ws_open -= 1
        WS_CONNECTIONS.dec()
        structlog.contextvars.unbind_contextvars("session_id")


async def _finish(ws: WebSocket, task: asyncio.Task[Any]) -> None:
    """Turn how the serving task ended into an ERROR message and a close code."""
    exc = task.exception()
    if exc is None or isinstance(exc, WebSocketDisconnect):
        return
    code, body = 1011, error_message(500, "Internal error", repr(exc))
    if isinstance(exc, asyncio.TimeoutError):
        code, body = 1008, error_message(408, "Client too slow", "a send did not complete in time")
    elif isinstance(exc, Refused):
        code, body = exc.code, error_message(exc.status, exc.title, exc.detail)
    else:
        log.error("ws.failed", error=repr(exc))
    with contextlib.suppress(Exception):
        await ws.send_text(body.decode())
        await ws.close(code)
