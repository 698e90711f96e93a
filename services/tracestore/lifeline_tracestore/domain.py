"""The trace store's rules, pure: no I/O, broker, web or database imports.

- A trace is one event plus the session's context after it. Events from the log are
  folded per session in seq order with the shared fold; a lifecycle announcement
  carries the latest context the store knows for its session.
- A trace's `timestamp` is when Lifeline recorded the event (ingest's `recorded_at`);
  storage is partitioned by that day, and retention drops whole day partitions,
  trimming only the day that straddles the cutoff row by row.
- A session stream is paced by the gaps between its timestamps × `time_scale`, each
  gap capped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from lifeline_events import Event, SessionState, apply, canonical_json

SOURCE_EVENTS = "events"
SOURCE_LIFECYCLE = "lifecycle"
PARTITION_PREFIX = "event_traces_p"
_PARTITION = re.compile(rf"^{PARTITION_PREFIX}(\d{{8}})$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
OTEL_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class TraceRow:
    """One row of `traces.event_traces`, JSON columns already serialised."""

    trace_id: UUID
    ts: datetime
    tenant_id: str
    person_id: str | None
    session_id: str
    seq: int | None
    event_type: str
    event_data: str
    context_snapshot: str | None
    otel_trace_id: str | None
    source: str


def otel_trace_id(traceparent: str | None) -> str | None:
    """The 32-hex trace id of a W3C `traceparent`, or None when absent or malformed."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)


def _row(event: Event, state_json: str | None, person_id: str | None, source: str,
         raw: bytes | None = None) -> TraceRow:
    """`raw` is the event's JSON as delivered: stored as is, never serialised again."""
    return TraceRow(
        trace_id=event.event_id, ts=event.recorded_at, tenant_id=event.tenant_id,
        person_id=event.person_id or person_id, session_id=event.session_id,
        seq=event.seq if source == SOURCE_EVENTS else None, event_type=event.event_type,
        event_data=(raw if raw is not None else event.to_json_bytes()).decode(), context_snapshot=state_json,
        otel_trace_id=otel_trace_id(event.traceparent), source=source,
    )


def fold_traces(state: SessionState, events: Sequence[Event],
                raws: Sequence[bytes] | None = None) -> tuple[SessionState, list[TraceRow]]:
    """Fold a session's new events (contiguous, seq order) and make one trace per event.

    `raws[i]` is the JSON `events[i]` arrived as; events the state already holds are skipped.
    """
    rows: list[TraceRow] = []
    for i, event in enumerate(events):
        if event.seq <= state.seq:
            continue
        state = apply(state, event)
        rows.append(_row(event, canonical_json(state).decode(), state.person_id, SOURCE_EVENTS,
                         raws[i] if raws is not None else None))
    return state, rows


def lifecycle_trace(event: Event, latest: Mapping[str, Any] | None, raw: bytes | None = None) -> TraceRow:
    """A lifecycle announcement's trace: the event with the latest known context."""
    snapshot = canonical_json(latest).decode() if latest is not None else None
    person = latest.get("person_id") if latest else None
    return _row(event, snapshot, person, SOURCE_LIFECYCLE, raw)


def day_of(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day a partition named by `partition_name` holds; None for any other table."""
    match = _PARTITION.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


@dataclass(frozen=True)
class RetentionPlan:
    """What one cleanup does: drop whole days, trim the day the cutoff falls in."""

    cutoff: datetime
    drop: tuple[date, ...]
    trim: date | None


def plan_retention(days: Sequence[date], *, now: datetime, days_to_keep: int) -> RetentionPlan:
    """Days entirely older than `now - days_to_keep` are dropped; the straddling day is trimmed."""
    cutoff = now.astimezone(UTC) - timedelta(days=days_to_keep)
    drop = tuple(sorted(d for d in days if day_start(d) + timedelta(days=1) <= cutoff))
    straddling = day_of(cutoff)
    trim = straddling if straddling in days and day_start(straddling) < cutoff else None
    return RetentionPlan(cutoff=cutoff, drop=drop, trim=trim)


def stream_delays(timestamps: Sequence[datetime], *, time_scale: float, max_gap_s: float) -> list[float]:
    """Seconds to wait before each item: the original gap × time_scale, within [0, max_gap_s]."""
    delays = [0.0] * len(timestamps)
    for i in range(1, len(timestamps)):
        gap = (timestamps[i] - timestamps[i - 1]).total_seconds() * time_scale
        delays[i] = min(max(gap, 0.0), max_gap_s)
    return delays


def iso(ts: datetime | None) -> str | None:
    """UTC ISO-8601 with a `Z`, as the replay API has always spelled timestamps."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def trace_document(row: Mapping[str, Any], *, include_context: bool = True) -> dict[str, Any]:
    """The public `EventTrace` shape of a stored row."""
    return {
        "trace_id": str(row["trace_id"]),
        "person_id": row["person_id"],
        "session_id": row["session_id"],
        "event_type": row["event_type"],
        "timestamp": iso(row["ts"]),
        "event_data": row["event_data"],
        "context_snapshot": row["context_snapshot"] if include_context else None,
        "otel_trace_id": row["otel_trace_id"],
    }


def context_matches(rebuilt: SessionState, snapshot: Mapping[str, Any] | None) -> bool:
    """True when a rebuilt state is byte-for-byte the stored snapshot (canonical JSON)."""
    return snapshot is not None and canonical_json(rebuilt) == canonical_json(snapshot)
