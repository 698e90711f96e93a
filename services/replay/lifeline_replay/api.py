"""replay's HTTP routes: recovered state, time travel, the LLM context window, the checkpoint."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field, model_validator
from starlette.requests import HTTPConnection

from lifeline_clients import PeerRefusedError
from lifeline_events import canonical_json
from lifeline_projection import SessionKey
from lifeline_replay.context import assemble
from lifeline_replay.deps import Deps, ReplayDeps
from lifeline_replay.domain import staleness, state_document
from lifeline_replay.errors import SessionNotFoundError
from lifeline_replay.recovery import Recovered
from lifeline_replay.redacting import redact_window
from lifeline_replay.timetravel import travel
from lifeline_servicekit import (
    MAX_INT64,
    Principal,
    ProblemError,
    SaneDatetime,
    SessionId,
    TenantParam,
    deps_from,
    require_person,
    require_scope,
    session_not_found,
    tenant_for,
)

router = APIRouter(prefix="/v1", tags=["replay"])
Reader = Annotated[Principal, Depends(require_scope("read"))]
MinSeq = Annotated[int | None, Query(ge=0, le=MAX_INT64,
                                     description="wait until the state has reached this seq")]
TimeoutMs = Annotated[int | None, Query(ge=1, le=MAX_INT64,
                                        description="longest wait for min_seq (capped by the setting)")]


async def session_person(connection: HTTPConnection, tenant: str, session: str) -> tuple[bool, str | None]:
    """Whose session this is, for servicekit's person guard (person-scoped keys only)."""
    try:
        found = await deps_from(connection.app, ReplayDeps).recovery.recover(tenant, session)
    except SessionNotFoundError:
        return False, None
    return True, found.model().person_id


async def recover_at_least(app: ReplayDeps, tenant: str, session: str, min_seq: int | None,
                           timeout_ms: int | None, principal: Principal | None = None) -> Recovered:
    """Recover; with `min_seq`, wait (bounded) until the state has reached it (read-your-writes).

    With a person-scoped `principal`, a session that turns out to be another person's is a
    404 (the guard cannot see a session that only appears during the wait)."""
    structlog.contextvars.bind_contextvars(session_id=session)
    limit = app.settings.state_wait_max_s
    timeout = min(limit, timeout_ms / 1000) if timeout_ms else limit
    deadline = time.monotonic() + timeout
    previous = -1
    while True:
        try:
            found: Recovered | None = await app.recovery.recover(tenant, session)
        except SessionNotFoundError:
            if min_seq is None:
                raise session_not_found(session) from None
            found = None
        seq = found.seq if found else 0
        if found is not None and (min_seq is None or seq >= min_seq):
            if principal is not None and principal.persons is not None:
                require_person(principal, found.model().person_id, session)
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if found is None:
                raise session_not_found(session)
            raise ProblemError(504, "Timeout", f"the state reached seq {seq}, not min_seq {min_seq}, "
                               f"within {timeout:g}s", seq=seq, min_seq=min_seq, mode=found.mode)
        if seq == previous:  # woken without progress: do not spin
            await asyncio.sleep(min(remaining, 0.02))
        previous = seq
        mode = found.mode if found else "log"
        await app.recovery.wait_beyond(tenant, session, seq, min(remaining, 1.0), mode)


@router.get("/sessions/{session_id}/state")
async def read_state(deps: Deps, session_id: SessionId, principal: Reader, min_seq: MinSeq = None,
                     timeout_ms: TimeoutMs = None, tenant_id: TenantParam = None) -> Response:
    """The recovered state (the fold of ingest's log) and which ladder step served it."""
    tenant = tenant_for(principal, tenant_id)
    found = await recover_at_least(deps, tenant, session_id, min_seq, timeout_ms, principal)
    extra = {"profile": found.profile} if found.profile is not None else None
    body = state_document(session_id=session_id, tenant_id=tenant, seq=found.seq, mode=found.mode,
                          stale=found.staleness(), state_json=found.state_json,
                          extra=extra)
    return Response(body, media_type="application/json")


class ReplayRequest(BaseModel):
    """Exactly one of `until_seq` and `at`."""

    until_seq: int | None = Field(default=None, ge=1, le=MAX_INT64, description="the state after this seq")
    at: SaneDatetime | None = Field(default=None,
                                    description="the state after the last event recorded by then")
    use_snapshots: bool = Field(default=True, description="false: fold the whole log from its start")

    @model_validator(mode="after")
    def _exactly_one(self) -> ReplayRequest:
        if (self.until_seq is None) == (self.at is None):
            raise ValueError("give exactly one of until_seq and at")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at must carry a timezone (e.g. 2025-01-01T12:00:00Z)")
        return self


@router.post("/sessions/{session_id}/replay")
async def replay_until(deps: Deps, session_id: SessionId, principal: Reader,
                       body: Annotated[ReplayRequest, Body()], tenant_id: TenantParam = None) -> Response:
    """Time travel: the state as it was at `until_seq` or at time `at`."""
    tenant = tenant_for(principal, tenant_id)
    started = time.perf_counter()
    try:
        result = await travel(deps.pool, deps.hot, deps.ingest, tenant, session_id, until_seq=body.until_seq,
                              at=body.at, use_snapshots=body.use_snapshots)
    except SessionNotFoundError:
        raise session_not_found(session_id) from None
    except PeerRefusedError as exc:  # ingest refused to read its log for us: unavailable to this call
        raise ProblemError(503, "Dependency unavailable", f"ingest's log: {exc!r}") from exc
    extra: dict[str, Any] = {"until_seq": body.until_seq, "at": body.at.isoformat() if body.at else None,
                             "base_seq": result.base_seq, "events_folded": result.events_folded,
                             "elapsed_ms": round((time.perf_counter() - started) * 1000, 3)}
    doc = state_document(session_id=session_id, tenant_id=tenant, seq=result.state.seq, mode=result.source,
                         stale=staleness(result.source, None), state_json=canonical_json(result.state),
                         extra=extra)
    return Response(doc, media_type="application/json")


@router.get("/sessions/{session_id}/context")
async def context_window(
    deps: Deps, session_id: SessionId, principal: Reader,
    budget_tokens: Annotated[int, Query(ge=1, le=10_000_000)] = 4000,
    provider: Literal["openai", "anthropic", "gemini"] = "openai",
    intent: Annotated[str | None, Query(max_length=128, description="the next call's intent")] = None,
    min_seq: MinSeq = None, timeout_ms: TimeoutMs = None, tenant_id: TenantParam = None,
    redact: Annotated[bool, Query(description="secrets and personal data as [redacted:<kind>]")] = False,
) -> dict[str, Any]:
    """The context window for the next LLM call, in the provider's own message format
    (with `redact=true`, through the platform's redaction library; counts in `redactions`)."""
    tenant = tenant_for(principal, tenant_id)
    found = await recover_at_least(deps, tenant, session_id, min_seq, timeout_ms, principal)
    state = found.model()
    memory = deps.memory
    bias = await memory.bias(tenant, state.person_id) if memory is not None else []
    window = assemble(state, budget_tokens=budget_tokens, provider=provider, bias=bias, intent=intent,
                      window_tokens=deps.settings.context_window_tokens(provider))
    if redact:
        window, counts = redact_window(window)
        window["redactions"] = counts
    return {"session_id": session_id, "mode": found.mode,
            "staleness": found.staleness().as_dict(), **window}


@router.get("/sessions/{session_id}/checkpoint")
async def checkpoint(deps: Deps, session_id: SessionId, principal: Reader,
                     tenant_id: TenantParam = None) -> dict[str, Any]:
    """The projection's applied position for the session (0 before anything was applied)."""
    tenant = tenant_for(principal, tenant_id)
    last = await deps.projection.checkpoint(SessionKey(tenant, session_id))
    return {"session_id": session_id, "tenant_id": tenant, "last_seq": last}
