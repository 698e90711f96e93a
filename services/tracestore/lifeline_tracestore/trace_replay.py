"""Replaying stored traces: rebuild a trace's context with the fold, pace a session.

The context of a trace is rebuilt from the session's stored log events (seq 1 up to
the snapshot's seq); when some have expired or been deleted, from ingest's log, which
is the truth. It must equal the stored snapshot, byte for byte in canonical form.

`replay_result.is_replay` says whether `context_state` really is such a re-fold (false
when the context was not asked for or its history is nowhere to be read), and
`fusion_timestamp` is when the newest event folded into it was recorded (the instant the
context stands for), not the time of the request. A single trace is not paced: its
`time_scale` is echoed in `replay_metadata` for the streams' sake and has no effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import structlog

from lifeline_clients import IngestClient
from lifeline_events import Event, SessionState, canonical_json, fold
from lifeline_store import wrap_errors
from lifeline_tracestore import store
from lifeline_tracestore.domain import context_matches, iso, stream_delays, trace_document
from lifeline_tracestore.redacting import Redactor

log = structlog.get_logger("lifeline.tracestore.replay")


class Replayer:
    """Rebuilds contexts from the stored log, falling back to ingest's."""

    def __init__(self, pool: asyncpg.Pool, ingest: IngestClient | None,
                 redactor: Redactor | None = None) -> None:
        self._pool = pool
        self._ingest = ingest
        self._redactor = redactor or Redactor()

    async def rebuild(self, tenant: str, session: str,
                      until_seq: int) -> tuple[SessionState, datetime] | None:
        """The fold of seq 1..until_seq and when its last event was recorded, or None when
        that history is nowhere to be read."""
        with wrap_errors("read stored log events"):
            raw = await store.logged_events(self._pool, tenant, session, until_seq)
        events = [Event.from_json(r) for r in raw]
        if [e.seq for e in events] != list(range(1, until_seq + 1)):
            if self._ingest is None:
                return None
            events = await self._ingest.events(tenant, session, after_seq=0, until_seq=until_seq)
            if [e.seq for e in events] != list(range(1, until_seq + 1)):
                return None
            # ingest's log is not redacted: what leaves trace-store is, as what it stores
            events = list(self._redactor.events(events, [e.to_json_bytes() for e in events])[0])
        return fold(events), events[-1].recorded_at

    async def replay(self, tenant: str, row: Mapping[str, Any], *, include_context: bool,
                     time_scale: float) -> dict[str, Any]:
        """The public replay document for one stored trace."""
        context_state: dict[str, Any] | None = None
        fused_at: datetime | None = None
        available = True
        if include_context:
            snapshot = row["context_snapshot"]
            target = int(snapshot.get("seq") or 0) if snapshot else 0
            rebuilt = await self.rebuild(tenant, row["session_id"], target) if target else None
            available = rebuilt is not None
            if rebuilt is not None:
                state, fused_at = rebuilt
                context_state = orjson.loads(canonical_json(state))
                if not context_matches(state, snapshot):
                    log.warning("replay.context_differs", trace_id=str(row["trace_id"]), seq=target)
        now = iso(datetime.now(UTC))
        return {
            "trace": trace_document(row, include_context=include_context),
            "replay_metadata": {"requested_at": now, "include_context": include_context,
                                "time_scale": time_scale, "original_event_type": row["event_type"],
                                "replay_available": available},
            "replay_result": {"context_state": context_state,
                              "fusion_timestamp": iso(fused_at) if fused_at else None,
                              "is_replay": context_state is not None, "original_timestamp": iso(row["ts"])},
        }


def _sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


async def paced_stream(rows: Sequence[Mapping[str, Any]], *, session_id: str, time_scale: float,
                       max_gap_s: float) -> AsyncIterator[bytes]:
    """Server-Sent Events: `start`, one `trace` per row after its paced gap, then `end`."""
    delays = stream_delays([r["ts"] for r in rows], time_scale=time_scale, max_gap_s=max_gap_s)
    yield _sse("start", {"session_id": session_id, "count": len(rows), "time_scale": time_scale})
    for row, delay in zip(rows, delays, strict=True):
        if delay > 0:
            await asyncio.sleep(delay)
        yield _sse("trace", trace_document(row), str(row["trace_id"]))
    yield _sse("end", {"session_id": session_id, "count": len(rows)})
