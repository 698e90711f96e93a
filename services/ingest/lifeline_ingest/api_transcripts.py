"""ingest's transcript import: a provider's conversation appended as turns (issue 12).

The conversion and the provider rules are pure (`transcripts.py`); this route only
enforces the body limits, then appends through the same committer as `POST …/events`,
so dedupe by turn id, `expected_seq` and salience scoring behave exactly as there.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from lifeline_ingest.api import read_body_within
from lifeline_ingest.committer import EVENTS, AppendRequest
from lifeline_ingest.deps import Deps
from lifeline_ingest.errors import IntakeError
from lifeline_ingest.persons import check_append
from lifeline_ingest.transcripts import parse_transcript, to_events
from lifeline_servicekit import Principal, SessionId, require_scope
from lifeline_telemetry import current_traceparent, tracer

router = APIRouter(prefix="/v1", tags=["ingest"])

_EXAMPLE = {"provider": "anthropic", "system": "You are a dental clinic's assistant.",
            "messages": [{"role": "user", "content": "I'd like to ask about veneers"},
                         {"role": "assistant", "content": [{"type": "text", "text": "Happy to help."}]}]}


class ImportedResult(BaseModel):
    event_id: str
    seq: int
    duplicate: bool
    turn_id: int
    source: str


class DroppedItem(BaseModel):
    field: str
    index: int | None
    reason: str


class TranscriptResponse(BaseModel):
    provider: str
    results: list[ImportedResult]
    dropped: list[DroppedItem]
    next_turn_id: int


@router.post("/sessions/{session_id}/transcripts", response_model=TranscriptResponse,
             openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}}})
async def import_transcript(
    request: Request, deps: Deps, session_id: SessionId,
    principal: Annotated[Principal, Depends(require_scope("ingest"))],
) -> Response:
    """Append an OpenAI, Anthropic or Gemini transcript as turns; a re-import is all duplicates."""
    settings = deps.settings
    body = await read_body_within(request, settings.max_batch_bytes)
    structlog.contextvars.bind_contextvars(session_id=session_id)
    try:
        transcript = parse_transcript(body, max_turns=settings.max_batch_events)
        events = to_events(transcript, session_id=session_id, tenant_id=principal.tenant,
                           max_event_bytes=settings.max_event_bytes)
    except IntakeError:  # answered by its kind (422, or 413 over a limit): counted here
        EVENTS.labels("rejected", "http").inc()
        raise
    await check_append(deps, principal, session_id, [e.person_id for e in events])  # as an append
    with tracer("lifeline.ingest").start_as_current_span("ingest.transcript.import") as span:
        span.set_attribute("lifeline.session_id", session_id)
        span.set_attribute("lifeline.events", len(events))
        writer = transcript.participant_id or transcript.person_id  # as the append route's default
        append = AppendRequest(tenant_id=principal.tenant, session_id=session_id, events=events,
                               expected_seq=transcript.expected_seq, traceparent=current_traceparent(),
                               source="http", participant_id=writer)
        outcomes = await deps.committer.append(append)  # a refusal is answered 409 by its kind
    structlog.get_logger("lifeline.ingest").info(
        "transcript.imported", provider=transcript.provider, events=len(outcomes),
        duplicates=sum(o.duplicate for o in outcomes), dropped=len(transcript.dropped))
    results: list[dict[str, Any]] = [
        {"event_id": str(o.event_id), "seq": o.seq, "duplicate": o.duplicate, "turn_id": t.turn_id,
         "source": t.source} for o, t in zip(outcomes, transcript.turns, strict=True)]
    answer = {"provider": transcript.provider, "results": results, "dropped": transcript.dropped,
              "next_turn_id": transcript.next_turn_id}
    return Response(orjson.dumps(answer), media_type="application/json")
