"""Export a session as one redacted JSON bundle; import a bundle as a sandbox session."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from lifeline_servicekit import Principal, ProblemError, require_scope
from lifeline_snapshot import store
from lifeline_snapshot.api import SessionId, forwarded_authorization
from lifeline_snapshot.bundle import BundleError, validate_bundle

router = APIRouter(prefix="/v1", tags=["export"])
log = structlog.get_logger("lifeline.snapshot")


@router.get("/sessions/{session_id}/export", response_model=None)
async def export_session(
    request: Request, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> Response:
    """The session's events (from ingest's log), snapshots and profile, redacted.

    Sessions longer than `LIFELINE_EXPORT_STREAM_AFTER_EVENTS` are streamed page by page.
    """
    state, settings = request.app.state, request.app.state.settings
    structlog.contextvars.bind_contextvars(session_id=session_id)
    last_seq = await state.ingest.last_seq(principal.tenant, session_id)
    if last_seq is None:
        raise ProblemError(404, "Session not found", f"no session {session_id!r} for this tenant")
    projected = await store.read_state(state.pool, principal.tenant, session_id) or {}
    chunks = state.exporter.stream(principal.tenant, session_id, last_seq, forwarded_authorization(request),
                                   projected.get("person_id"))
    headers = {"Content-Disposition": f'attachment; filename="{session_id}.lifeline.json"',
               "X-Lifeline-Events": str(last_seq)}
    if last_seq > settings.export_stream_after_events:
        log.info("export.streaming", events=last_seq)
        return StreamingResponse(chunks, media_type="application/json", headers=headers)
    body = b"".join([chunk async for chunk in chunks])
    return Response(body, media_type="application/json", headers=headers)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit:
        raise _too_large(declared, limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(len(body), limit)
    return bytes(body)


def _too_large(size: int, limit: int) -> ProblemError:
    return ProblemError(413, "Bundle too large",
                        f"bundle of {size} bytes exceeds LIFELINE_EXPORT_MAX_MB ({limit} bytes)",
                        field="body")


@router.post("/sessions/import", status_code=201)
async def import_session(
    request: Request,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
    preserve_turn_id: Annotated[bool, Query(alias="preserveTurnId")] = False,
) -> dict[str, Any]:
    """Validate a bundle (schema, hashes) and replay its events into a new sandbox session."""
    state, settings = request.app.state, request.app.state.settings
    body = await _read_capped(request, int(settings.export_max_mb * 1024 * 1024))
    try:
        raw, events = validate_bundle(body)
    except BundleError as exc:
        raise ProblemError(422, "Invalid bundle", str(exc)[:2000], errors=exc.errors) from exc
    session, last_seq = await state.exporter.import_events(
        events, preserve_turn_ids=preserve_turn_id, authorization=forwarded_authorization(request))
    log.info("import.done", session_id=session, source=raw["session_id"], events=len(events))
    return {"session_id": session, "source_session_id": raw["session_id"], "events": len(events),
            "last_seq": last_seq, "preserve_turn_id": preserve_turn_id,
            "snapshots_in_bundle": len(raw.get("snapshots") or [])}
