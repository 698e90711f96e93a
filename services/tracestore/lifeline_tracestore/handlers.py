"""Bus handlers: every event on the log and every lifecycle announcement becomes a trace.

`lifeline.events.v1` goes through the `TraceProjector` (checkpointed, gap-healing,
exactly once per event). `lifeline.lifecycle.v1` records are stored with the latest
context of their session and deduplicated by trace id. Day partitions a batch needs
are created before its transaction opens. Each handled batch leaves a CONSUMER span
per distinct `traceparent`, parented on it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date

import asyncpg

from lifeline_bus import Delivery
from lifeline_events import Event, EventValidationError
from lifeline_projection import SessionKey
from lifeline_projection.spans import consumer_spans
from lifeline_store import wrap_errors
from lifeline_tracestore import store
from lifeline_tracestore.domain import SOURCE_LIFECYCLE, day_of, lifecycle_trace
from lifeline_tracestore.metrics import TRACES_STORED
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import PartitionsMissingError, TraceProjector, insert_rows

GROUP = "tracestore"
# Kafka: one group per topic, so joining one never rebalances the other.
LIFECYCLE_GROUP = "tracestore-lifecycle"
_ATTEMPTS = 3


def _decode(batch: list[Delivery], rejected: dict[str, str]) -> list[Event]:
    events = []
    for delivery in batch:
        try:
            events.append(Event.from_json(delivery.value))
        except EventValidationError as exc:
            rejected[delivery.id] = f"not a valid event: {exc}"
    return events


async def with_partitions(partitions: Partitions, days: set[date], work: Callable[[], Awaitable[int]]) -> int:
    """Run `work` once the days' partitions exist; recreate any that vanish meanwhile."""
    await partitions.ensure(days)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await work()
        except PartitionsMissingError as exc:
            partitions.forget(exc.days)
            if attempt == _ATTEMPTS:
                raise
            await partitions.ensure(exc.days)
    raise AssertionError("unreachable")


class EventsHandler:
    """`lifeline.events.v1` → traces, through the projector (exactly once per event)."""

    def __init__(self, projector: TraceProjector, partitions: Partitions, *, bus_kind: str) -> None:
        self._projector = projector
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
        await with_partitions(self._partitions, {day_of(e.recorded_at) for e in events},
                              lambda: self._projector.apply_events(ordered))
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
        stored = await with_partitions(self._partitions, {day_of(e.recorded_at) for e in events},
                                       lambda: self._store(events))
        TRACES_STORED.labels(SOURCE_LIFECYCLE).inc(stored)
        consumer_spans(batch[0].topic, LIFECYCLE_GROUP, self._bus_kind, events, started, time.time_ns())
        return rejected

    async def _store(self, events: list[Event]) -> int:
        by_tenant: dict[str, list[Event]] = {}
        for event in events:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        stored = 0
        with wrap_errors("store lifecycle traces"):
            async with self._pool.acquire() as conn, conn.transaction():
                for tenant, group in sorted(by_tenant.items()):
                    states = await store.latest_states(conn, tenant, sorted({e.session_id for e in group}))
                    rows = [lifecycle_trace(e, states.get(e.session_id)) for e in group]
                    stored += await insert_rows(conn, store.insert_announced, rows)
        return stored
