"""Bus handlers: every event on the log and every lifecycle announcement becomes a trace.

`lifeline.events.v1` goes through trace-store's `Projection` (the shared engine:
checkpointed, gap-healing, exactly once per event), wrapped so that a batch whose
day partitions do not exist creates them and runs again. `lifeline.lifecycle.v1`
records are stored with the latest context of their session and deduplicated by
trace id; the partitions they need are created before their transaction opens.
Each handled batch leaves a CONSUMER span per distinct `traceparent`, parented on it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date

import asyncpg

from lifeline_bus import BatchHandler, Delivery
from lifeline_events import Event, EventValidationError
from lifeline_projection.spans import consumer_spans
from lifeline_store import wrap_errors
from lifeline_tracestore import session_states, store
from lifeline_tracestore.domain import SOURCE_LIFECYCLE, day_of, lifecycle_trace
from lifeline_tracestore.metrics import TRACES_STORED
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import PartitionsMissingError, insert_rows
from lifeline_tracestore.redacting import Redactor

GROUP = "tracestore"
# Kafka: one group per topic, so joining one never rebalances the other.
LIFECYCLE_GROUP = "tracestore-lifecycle"
_ATTEMPTS = 3


def _decode(batch: list[Delivery], rejected: dict[str, str]) -> list[tuple[Event, bytes]]:
    """(event, the bytes it arrived as) per valid delivery."""
    events = []
    for delivery in batch:
        try:
            events.append((Event.from_json(delivery.value), delivery.value))
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


class PartitionedHandler:
    """The events projection's bus handler, creating missing day partitions on demand.

    The projection's transaction fails with `PartitionsMissingError` (nothing is
    written) when a row's day has no partition; the days are created outside any
    transaction and the batch runs again (already-applied events are skipped by the
    checkpoints, so a retry never doubles a trace).
    """

    def __init__(self, projection: BatchHandler, partitions: Partitions) -> None:
        self._projection = projection
        self._partitions = partitions

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await self._projection(batch)
            except PartitionsMissingError as exc:
                self._partitions.forget(exc.days)
                if attempt == _ATTEMPTS:
                    raise
                await self._partitions.ensure(exc.days)
        raise AssertionError("unreachable")


class LifecycleHandler:
    """`lifeline.lifecycle.v1` → traces carrying their session's latest context."""

    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, *, bus_kind: str,
                 redactor: Redactor | None = None) -> None:
        self._pool = pool
        self._partitions = partitions
        self._bus_kind = bus_kind
        self._redactor = redactor or Redactor()

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        rejected: dict[str, str] = {}
        decoded = {e.event_id: (e, raw) for e, raw in _decode(batch, rejected)}
        if not decoded:
            return rejected
        events = [e for e, _ in decoded.values()]
        started = time.time_ns()
        stored = await with_partitions(self._partitions, {day_of(e.recorded_at) for e in events},
                                       lambda: self._store(list(decoded.values())))
        TRACES_STORED.labels(SOURCE_LIFECYCLE).inc(stored)
        consumer_spans(batch[0].topic, LIFECYCLE_GROUP, self._bus_kind, events, started, time.time_ns())
        return rejected

    async def _store(self, events: list[tuple[Event, bytes]]) -> int:
        by_tenant: dict[str, list[tuple[Event, bytes]]] = {}
        for event, raw in events:
            by_tenant.setdefault(event.tenant_id, []).append((event, raw))
        stored = 0
        with wrap_errors("store lifecycle traces"):
            async with self._pool.acquire() as conn, conn.transaction():
                for tenant, group in sorted(by_tenant.items()):
                    sessions = sorted({e.session_id for e, _ in group})
                    states = await session_states.latest_states(conn, tenant, sessions)
                    rows = self._redactor.rows(
                        [lifecycle_trace(e, states.get(e.session_id), raw) for e, raw in group])
                    stored += await insert_rows(conn, store.insert_announced, rows)
        return stored
