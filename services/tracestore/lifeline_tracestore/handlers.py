"""Bus handlers: every event on the log and every lifecycle announcement becomes a trace.

`lifeline.events.v1` goes through a `Projection` (per-session checkpoint in the same
transaction, redeliveries skipped, gaps healed from ingest's log) whose apply step
folds the session and writes one trace per event. `lifeline.lifecycle.v1` records
are stored with the latest context of their session and deduplicated by trace id.
Day partitions a batch needs are created before its transaction opens. Each handled
batch leaves a CONSUMER span per distinct `traceparent`, parented on it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

import asyncpg
from opentelemetry import trace

from lifeline_bus import Delivery
from lifeline_common.errors import TransientError
from lifeline_events import Event, EventValidationError, SessionState
from lifeline_projection import Projection, SessionKey
from lifeline_store import wrap_errors
from lifeline_telemetry import context_from_traceparent
from lifeline_tracestore import store
from lifeline_tracestore.domain import (
    SOURCE_EVENTS,
    SOURCE_LIFECYCLE,
    TraceRow,
    day_of,
    fold_traces,
    lifecycle_trace,
)
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.metrics import STORE_LATENCY, TRACES_STORED
from lifeline_tracestore.partitions import Partitions

GROUP = "tracestore"
# Kafka: one group per topic, so joining one never rebalances the other.
LIFECYCLE_GROUP = "tracestore-lifecycle"
Insert = Callable[[asyncpg.Connection, Sequence[TraceRow]], Awaitable[int]]
_ATTEMPTS = 3


class PartitionsMissingError(TransientError):
    """A row's day has no partition (yet, or any more): create it and try again."""

    def __init__(self, days: Iterable[date]) -> None:
        self.days = set(days)
        super().__init__(f"no trace partition for {sorted(self.days)}")


def _decode(batch: list[Delivery], rejected: dict[str, str]) -> list[Event]:
    events = []
    for delivery in batch:
        try:
            events.append(Event.from_json(delivery.value))
        except EventValidationError as exc:
            rejected[delivery.id] = f"not a valid event: {exc}"
    return events


async def _insert(conn: asyncpg.Connection, insert: Insert, rows: Sequence[TraceRow], days: set[date]) -> int:
    try:
        return int(await insert(conn, rows))
    except asyncpg.exceptions.CheckViolationError as exc:
        if "no partition" in str(exc):
            raise PartitionsMissingError(days) from exc
        raise


def consumer_spans(topic: str, group: str, bus_kind: str, events: Sequence[Event], start_ns: int,
                   end_ns: int) -> None:
    """One CONSUMER span per distinct traceparent, covering this batch's handling."""
    tracer = trace.get_tracer("lifeline.tracestore")
    by_parent: dict[str, list[Event]] = {}
    for event in events:
        if event.traceparent:
            by_parent.setdefault(event.traceparent, []).append(event)
    for traceparent, handled in by_parent.items():
        parent = context_from_traceparent(traceparent)
        if parent is None:
            continue
        span = tracer.start_span(f"{topic} process", context=parent, kind=trace.SpanKind.CONSUMER,
                                 start_time=start_ns, attributes={
                                     "messaging.system": bus_kind, "messaging.destination.name": topic,
                                     "messaging.consumer.group.name": group,
                                     "messaging.batch.message_count": len(handled),
                                     "lifeline.session_id": handled[0].session_id,
                                     "lifeline.event_ids": [str(e.event_id) for e in handled[:32]]})
        span.end(end_time=end_ns)


class TraceFold:
    """The projection's apply step: fold the session, write its traces and its state."""

    def __init__(self, partitions: Partitions, freshness: Freshness) -> None:
        self._partitions = partitions
        self._freshness = freshness

    async def apply(self, conn: asyncpg.Connection, key: SessionKey, events: Sequence[Event]) -> None:
        days = {day_of(e.recorded_at) for e in events}
        if missing := self._partitions.missing(days):  # healed events may be from older days
            raise PartitionsMissingError(missing)
        known = await store.load_states(conn, key.tenant_id, [key.session_id])
        start = known.get(key.session_id)
        state = SessionState.model_validate(start) if start is not None else SessionState()
        state, rows = fold_traces(state, events)
        try:
            await _insert(conn, store.insert_from_log, rows, days)
        except PartitionsMissingError:
            self._partitions.forget(days)
            raise
        await store.save_state(conn, key.tenant_id, key.session_id, state.seq,
                               rows[-1].context_snapshot or "{}")

    async def after_commit(self, _: SessionKey, events: Sequence[Event]) -> None:
        TRACES_STORED.labels(SOURCE_EVENTS).inc(len(events))
        now = datetime.now(UTC)
        for event in events:
            STORE_LATENCY.observe(max(0.0, (now - event.recorded_at).total_seconds()))
        self._freshness.notify()


class EventsHandler:
    """`lifeline.events.v1` → traces, through the projection (exactly once per event)."""

    def __init__(self, projection: Projection, partitions: Partitions, *, bus_kind: str) -> None:
        self._projection = projection
        self._partitions = partitions
        self._bus_kind = bus_kind

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        rejected: dict[str, str] = {}
        events = _decode(batch, rejected)
        by_session: dict[SessionKey, dict[int, Event]] = {}
        for event in events:
            by_session.setdefault(SessionKey(event.tenant_id, event.session_id), {})[event.seq] = event
        if not by_session:
            return rejected
        ordered = {k: sorted(v.values(), key=lambda e: e.seq) for k, v in by_session.items()}
        started = time.time_ns()
        await self._partitions.ensure({day_of(e.recorded_at) for e in events})
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                await self._projection.apply_events(ordered)
                break
            except PartitionsMissingError as exc:
                if attempt == _ATTEMPTS:
                    raise
                await self._partitions.ensure(exc.days)
        consumer_spans(batch[0].topic, GROUP, self._bus_kind, events, started, time.time_ns())
        return rejected


class LifecycleHandler:
    """`lifeline.lifecycle.v1` → traces carrying their session's latest context."""

    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, *, bus_kind: str) -> None:
        self._pool = pool
        self._partitions = partitions
        self._bus_kind = bus_kind

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        rejected: dict[str, str] = {}
        events = list({e.event_id: e for e in _decode(batch, rejected)}.values())
        if not events:
            return rejected
        started = time.time_ns()
        days = {day_of(e.recorded_at) for e in events}
        await self._partitions.ensure(days)
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                stored = await self._store(events, days)
                break
            except PartitionsMissingError as exc:
                self._partitions.forget(exc.days)
                if attempt == _ATTEMPTS:
                    raise
                await self._partitions.ensure(exc.days)
        TRACES_STORED.labels(SOURCE_LIFECYCLE).inc(stored)
        consumer_spans(batch[0].topic, LIFECYCLE_GROUP, self._bus_kind, events, started, time.time_ns())
        return rejected

    async def _store(self, events: list[Event], days: set[date]) -> int:
        by_tenant: dict[str, list[Event]] = {}
        for event in events:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        stored = 0
        with wrap_errors("store lifecycle traces"):
            async with self._pool.acquire() as conn, conn.transaction():
                for tenant, group in sorted(by_tenant.items()):
                    states = await store.load_states(conn, tenant, sorted({e.session_id for e in group}))
                    rows = [lifecycle_trace(e, states.get(e.session_id)) for e in group]
                    stored += await _insert(conn, store.insert_announced, rows, days)
        return stored
