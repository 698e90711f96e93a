"""What one event contributes to governance's windows: a call sample, merged per turn (pure).

A model call can be described twice — by the assistant's `turn.recorded` and by a
`model.call.recorded` naming the same turn. Both are keyed `(turn_id, model_id)` and
the second only fills what the first left null, adding to the *first* sample's bucket,
so a call is counted once. The key includes the model because a mirrored call of a
SHADOW model on the same turn is a different call. The projection remembers every keyed
call it has counted (`governance.call_keys`, kept as long as the buckets) and hands the
keys a batch names to `apply_events` as `SessionCursor.known`; the result depends only on
the log's order, so it is deterministic whatever the batching. Everything here is pure:
no I/O, integer counters only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lifeline_events import Event

GLOBAL_INTENT = "*"
LATENCY_BOUNDS_MS: tuple[int, ...] = (50, 100, 200, 400, 800, 1600, 3200, 6400, 12800)
"""Upper bounds of the latency histogram; a tenth bucket holds everything above."""
HIST_SIZE = len(LATENCY_BOUNDS_MS) + 1


@dataclass(frozen=True)
class BucketKey:
    """One per-minute bucket: tenant, intent, model and the minute of ingest's time."""

    tenant_id: str
    intent: str
    model_id: str
    minute: int  # epoch seconds, a multiple of 60


@dataclass
class Counters:
    """Integer sums over calls; adding is associative, so batch splits never matter."""

    calls: int = 0
    outcomes: int = 0
    successes: int = 0
    scored: int = 0
    score_milli_sum: int = 0
    score_milli_sq: int = 0
    latency_n: int = 0
    latency_sum_ms: int = 0
    latency_hist: list[int] = field(default_factory=lambda: [0] * HIST_SIZE)
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, other: Counters) -> None:
        self.calls += other.calls
        self.outcomes += other.outcomes
        self.successes += other.successes
        self.scored += other.scored
        self.score_milli_sum += other.score_milli_sum
        self.score_milli_sq += other.score_milli_sq
        self.latency_n += other.latency_n
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_hist = [a + b for a, b in zip(self.latency_hist, other.latency_hist, strict=True)]
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.calls,
            self.outcomes,
            self.successes,
            self.scored,
            self.score_milli_sum,
            self.score_milli_sq,
            self.latency_n,
            self.latency_sum_ms,
            list(self.latency_hist),
            self.tokens_in,
            self.tokens_out,
        )


def latency_bucket(latency_ms: int) -> int:
    """Index of the histogram bucket holding `latency_ms` (beyond the last bound: ∞)."""
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


@dataclass(frozen=True)
class CallFields:
    """The measured fields of one call; None = the producer did not say."""

    score: float | None = None
    success: bool | None = None
    latency_ms: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None

    def counters(self, *, new_call: bool) -> Counters:
        c = Counters(calls=1 if new_call else 0)
        if self.success is not None:
            c.outcomes, c.successes = 1, int(self.success)
        if self.score is not None:
            milli = round(self.score * 1000)
            c.scored, c.score_milli_sum, c.score_milli_sq = 1, milli, milli * milli
        if self.latency_ms is not None:
            c.latency_n, c.latency_sum_ms = 1, self.latency_ms
            c.latency_hist[latency_bucket(self.latency_ms)] = 1
        c.tokens_in, c.tokens_out = self.tokens_in or 0, self.tokens_out or 0
        return c

    def fill(self, later: CallFields) -> tuple[CallFields, CallFields]:
        """(merged, what `later` newly contributes): first non-null wins per field."""

        def pick(a: Any, b: Any) -> tuple[Any, Any]:
            return (a, None) if a is not None else (b, b)

        score, d_score = pick(self.score, later.score)
        success, d_success = pick(self.success, later.success)
        latency, d_latency = pick(self.latency_ms, later.latency_ms)
        t_in, d_in = pick(self.tokens_in, later.tokens_in)
        t_out, d_out = pick(self.tokens_out, later.tokens_out)
        return (
            CallFields(score, success, latency, t_in, t_out),
            CallFields(d_score, d_success, d_latency, d_in, d_out),
        )


CallKey = tuple[int, str]  # (turn id, model id)


@dataclass
class SessionCursor:
    """Per-session memory of the projection: the current intent, and the keyed calls already
    counted that this batch may describe again (`known`); `changed` names the keys to save."""

    current_intent: str | None = None
    known: dict[CallKey, tuple[BucketKey, CallFields]] = field(default_factory=dict)
    changed: set[CallKey] = field(default_factory=set)


def minute_of(moment: datetime) -> int:
    return int(moment.timestamp()) // 60 * 60


def _call_of(event: Event) -> tuple[str, str | None, int | None, CallFields] | None:
    """(model, payload intent, turn key, fields) when `event` describes a model call."""
    p: Any = event.payload
    if event.event_type == "turn.recorded" and p.model_id:
        return p.model_id, p.intent, event.turn_id, CallFields(p.model_score, p.success, p.latency_ms)
    if event.event_type == "model.call.recorded":
        return (
            p.model_id,
            p.intent,
            p.turn_id,
            CallFields(p.score, p.success, p.latency_ms, p.tokens_in, p.tokens_out),
        )
    return None


def call_keys(events: Iterable[Event]) -> set[CallKey]:
    """The keys of the keyed calls among `events` (what `known` must be loaded for)."""
    keys = set()
    for event in events:
        call = _call_of(event)
        if call is not None and call[2] is not None:
            keys.add((call[2], call[0]))
    return keys


def apply_events(cursor: SessionCursor, events: Iterable[Event], into: dict[BucketKey, Counters]) -> int:
    """Fold a session's events (in seq order) into bucket deltas; return merged samples."""
    merged = 0
    for event in events:
        if event.event_type == "session.restored":
            cursor.current_intent = event.payload.state.get("intent") or None  # type: ignore[union-attr]
            continue
        call = _call_of(event)
        if event.event_type == "turn.recorded" and event.payload.intent:  # type: ignore[union-attr]
            cursor.current_intent = event.payload.intent  # type: ignore[union-attr]
        if call is None:
            continue
        model, intent, turn, fields = call
        key = BucketKey(
            event.tenant_id,
            intent or cursor.current_intent or GLOBAL_INTENT,
            model,
            minute_of(event.recorded_at),
        )
        if turn is not None and _merge(cursor, turn, model, fields, into):
            merged += 1
            continue
        into.setdefault(key, Counters()).add(fields.counters(new_call=True))
        if turn is not None:
            cursor.known[(turn, model)] = (key, fields)
            cursor.changed.add((turn, model))
    return merged


def _merge(
    cursor: SessionCursor, turn: int, model: str, fields: CallFields, into: dict[BucketKey, Counters]
) -> bool:
    found = cursor.known.get((turn, model))
    if found is None:
        return False
    key, first = found
    merged, delta = first.fill(fields)
    if merged != first:
        cursor.known[(turn, model)] = (key, merged)
        cursor.changed.add((turn, model))
    into.setdefault(key, Counters()).add(delta.counters(new_call=False))
    return True
