"""Export a session as one redacted bundle; import a bundle as a sandbox session.

JSON by default; MessagePack when the export's `Accept` prefers `application/msgpack`
or the import's `Content-Type` is `application/msgpack` (export/formats.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from lifeline_servicekit import (
    Principal,
    ProblemError,
    SessionId,
    forwarded_authorization,
    require_scope,
    session_not_found,
)
from lifeline_snapshot import store
from lifeline_snapshot.deps import Deps
from lifeline_snapshot.export import versions
from lifeline_snapshot.export.bundle import NOT_IMPORTED, validate_bundle, validate_document, versions_of
from lifeline_snapshot.export.formats import (
    JSON,
    MSGPACK,
    is_msgpack,
    json_to_msgpack,
    parse_msgpack,
    wants_msgpack,
)
from lifeline_snapshot.metrics import EXPORT_BYTES, counted

router = APIRouter(prefix="/v1", tags=["export"])
log = structlog.get_logger("lifeline.snapshot")


_EXPORT_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {
    JSON: {"schema": {"type": "object", "description": "the bundle"}},
    MSGPACK: {"schema": {"type": "string", "format": "binary", "description": "the bundle, packed"}}}}}


@router.get("/sessions/{session_id}/export", response_model=None, responses=_EXPORT_ANSWER)
@counted("export")
async def export_session(
    request: Request, deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> Response:
    """The session's events (from ingest's log), snapshots and profile, redacted.

    Sessions longer than `LIFELINE_EXPORT_STREAM_AFTER_EVENTS` are streamed page by page
    (JSON only: a MessagePack bundle, asked for with `Accept: application/msgpack`, is
    built whole and converted from the JSON one, so it carries the same hashes).
    """
    structlog.contextvars.bind_contextvars(session_id=session_id)
    last_seq = await deps.ingest.last_seq(principal.tenant, session_id)
    if last_seq is None:
        raise session_not_found(session_id)
    projected = await store.read_state(deps.pool, principal.tenant, session_id) or {}
    chunks = deps.exporter.stream(principal.tenant, session_id, last_seq, forwarded_authorization(request),
                                  projected.get("person_id"))
    packed = wants_msgpack(request.headers.get("accept"))
    extension = "msgpack" if packed else "json"
    headers = {"Content-Disposition": f'attachment; filename="{session_id}.lifeline.{extension}"',
               "X-Lifeline-Events": str(last_seq), "Vary": "Accept"}
    if not packed and last_seq > deps.settings.export_stream_after_events:
        log.info("export.streaming", events=last_seq)
        return StreamingResponse(chunks, media_type="application/json", headers=headers)
    body = b"".join([chunk async for chunk in chunks])
    if packed:
        body = json_to_msgpack(body)
    EXPORT_BYTES.observe(len(body))
    return Response(body, media_type=MSGPACK if packed else JSON, headers=headers)


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


_BUNDLE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "a bundle from GET /v1/sessions/{session_id}/export"}}}}}


@router.post("/sessions/import", status_code=201, openapi_extra=_BUNDLE_BODY)
@counted("import")
async def import_session(
    request: Request, deps: Deps,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
    preserve_turn_id: Annotated[bool, Query(alias="preserveTurnId")] = False,
) -> dict[str, Any]:
    """Validate a bundle (schema, hashes) and replay its events into a new sandbox session.

    The body is JSON, or MessagePack with `Content-Type: application/msgpack`. An invalid
    bundle raises `BundleError` (answered 422 by its kind, naming the fields). The bundle's
    versions whose content_hash matches the state folded from its events at their at_seq
    are recreated on the sandbox (`versions_restored`, message and tags kept); the others
    are listed in `versions_not_restored` with the reason.
    """
    body = await _read_capped(request, int(deps.settings.export_max_mb * 1024 * 1024))
    if is_msgpack(request.headers.get("content-type")):
        raw, events = validate_document(parse_msgpack(body))
    else:
        raw, events = validate_bundle(body)
    matching, not_restored = versions.check(versions_of(raw), events)
    session, assigned = await deps.exporter.import_events(
        events, preserve_turn_ids=preserve_turn_id, authorization=forwarded_authorization(request))
    imported = [e.seq for e in events if e.event_type not in NOT_IMPORTED]
    restored, refused = await deps.exporter.restore_versions(
        principal.tenant, session, [(v, versions.target_seq(imported, assigned, v.at_seq)) for v in matching])
    log.info("import.done", session_id=session, source=raw["session_id"], events=len(events),
             versions=len(restored), versions_not_restored=len(not_restored) + len(refused))
    return {"session_id": session, "source_session_id": raw["session_id"], "events": len(events),
            "last_seq": max(assigned, default=0), "preserve_turn_id": preserve_turn_id,
            "snapshots_in_bundle": len(raw.get("snapshots") or []),
            "versions_restored": restored, "versions_not_restored": not_restored + refused}
