"""The trace store's rules, pure: no I/O, broker, web or database imports.

- A trace is one event plus the session's context after it. Events from the log are
  folded per session in seq order with the shared fold; a lifecycle announcement
  carries the latest context the store knows for its session.
- Only anchor rows store their context (`is_anchor`): every `every`-th seq and the first
  of each UTC day; the first row of a run carries its context to the store, which keeps
  it only when the row before it (seq - 1, same day) is not stored (`TraceRow.chains_back`).
  The others store NULL and are rebuilt on read by folding the stored events onto the
  nearest anchor before them (`rebuild_contexts`). Every row's chain (its anchor and the
  rows between) lies within one day partition, so dropping whole days never orphans a row.
- A trace's `timestamp` is when Lifeline recorded the event (ingest's `recorded_at`);
  storage is partitioned by that day, and retention drops whole day partitions,
  trimming only the day that straddles the cutoff row by row.
- A session stream is paced by the gaps between its timestamps × `time_scale`, each
  gap capped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
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
# Every how many seqs a row of the log stores its context (LIFELINE_TRACE_CONTEXT_EVERY).
CONTEXT_EVERY = 16


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
    # The first row of a run, not an anchor by rule: its `context_snapshot` is stored only
    # when the row before it (seq - 1, same UTC day) is not (`store.insert_from_log`).
    chains_back: bool = False


def otel_trace_id(traceparent: str | None) -> str | None:
    """The 32-hex trace id of a W3C `traceparent`, or None when absent or malformed."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)


def _row(event: Event, state_json: str | None, person_id: str | None, source: str,
         raw: bytes | None = None, *, chains_back: bool = False) -> TraceRow:
    """`raw` is the event's JSON as delivered: stored as is, never serialised again."""
    return TraceRow(
        trace_id=event.event_id, ts=event.recorded_at, tenant_id=event.tenant_id,
        person_id=event.person_id or person_id, session_id=event.session_id,
        seq=event.seq if source == SOURCE_EVENTS else None, event_type=event.event_type,
        event_data=(raw if raw is not None else event.to_json_bytes()).decode(), context_snapshot=state_json,
        otel_trace_id=otel_trace_id(event.traceparent), source=source, chains_back=chains_back,
    )


def is_anchor(seq: int, day: date, previous_day: date | None, *, every: int) -> bool:
    """Whether a row stores its context (an anchor) whatever precedes it in the store.

    Every `every`-th seq is one, which bounds how many events a read folds; so is a row
    whose UTC day differs from the previous row's in its run, so each row's chain stays
    inside its day partition and retention's whole-day drops never leave a row without
    its anchor. The first row of a run (`previous_day` None) is decided by the store
    (`TraceRow.chains_back`): an anchor only when the row before it is not stored in its
    day — the session's first event, a new day, or a predecessor deleted since.
    """
    return every <= 1 or seq % every == 0 or (previous_day is not None and day != previous_day)


def fold_traces(state: SessionState, events: Sequence[Event], raws: Sequence[bytes] | None = None,
                *, every: int = 1) -> tuple[SessionState, list[TraceRow]]:
    """Fold a session's new events (contiguous, seq order) and make one trace per event.

    `raws[i]` is the JSON `events[i]` arrived as; events the state already holds are skipped.
    Anchor rows (`is_anchor`, every `every`-th seq; 1 = all) carry the context; so does the
    run's first row, marked `chains_back` unless it is an anchor by rule. The others carry
    None and are rebuilt on read.
    """
    fresh = [i for i, event in enumerate(events) if event.seq > state.seq]
    rows: list[TraceRow] = []
    previous_day: date | None = None
    for i in fresh:
        event = events[i]
        state = apply(state, event)
        day = day_of(event.recorded_at)
        anchor = is_anchor(event.seq, day, previous_day, every=every)
        first = previous_day is None
        rows.append(_row(event, canonical_json(state).decode() if anchor or first else None,
                         state.person_id, SOURCE_EVENTS, raws[i] if raws is not None else None,
                         chains_back=first and not anchor))
        previous_day = day
    return state, rows


def rebuild_contexts(chain: Sequence[tuple[int, Any, Any]], targets: Collection[int]) -> dict[int, bytes]:
    """The canonical contexts of the `targets` seqs, rebuilt from a session's stored rows.

    `chain` is (seq, event_data, context_snapshot or None) of one session's log rows in
    seq order, starting at an anchor at or before the first target. A context-less row's
    context is its nearest anchor before it (parsed into `SessionState`) with the stored
    events after it folded on: the stored events are already redacted, and folding them
    rebuilds exactly what was stored (redacting.py). A target whose chain has a gap (a
    missing seq) or no anchor is left out rather than guessed.
    """
    out: dict[int, bytes] = {}
    anchor: Any = None
    state: SessionState | None = None
    pending: list[Any] = []  # events after the anchor (or `state`) not folded yet
    previous: int | None = None
    for seq, data, context in chain:
        if previous is not None and seq != previous + 1:
            anchor, state, pending = None, None, []  # a gap: nothing before it can be used
        previous = seq
        if context is not None:
            anchor, state, pending = context, None, []
            continue
        pending.append(data)
        if seq not in targets or (anchor is None and state is None):
            continue
        if state is None:
            state = SessionState.model_validate(anchor)
            anchor = None
        for item in pending:
            state = apply(state, Event.from_json(item))
        pending = []
        out[seq] = canonical_json(state)
    return out


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
