"""The outbox relay: publishes logged events to `lifeline.events.v1`, in order.

Exactly one relay leads at a time (a PostgreSQL advisory lock held on its own
connection), so per-session order on the bus is the log's order even with several
ingest replicas. It publishes a batch, then marks it: a crash in between re-publishes
the batch, which consumers dedupe by (session_id, seq). While the bus is down the
rows simply stay unpublished and the relay retries with backoff.

After a batch smaller than a full read the relay lingers `LINGER_S` before it reads
again, even when a commit woke it: under single-event appends every group commit wakes
it, and each relay batch costs a read, a publish and a mark whatever its size. An idle
relay publishes a commit at once; a busy one adds at most `LINGER_S` to accept→published.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import asyncpg
import structlog
from opentelemetry import trace
from prometheus_client import Gauge, Histogram

from lifeline_bus import Bus, OutMessage
from lifeline_common.errors import TransientError
from lifeline_events import TOPIC_EVENTS
from lifeline_ingest.store import (
    OutboxRow,
    fetch_unpublished,
    listen_outbox,
    mark_published,
    stop_leading,
    try_lead,
    unlisten_outbox,
)
from lifeline_store import StoreError, StoreUnavailableError, wrap_errors
from lifeline_telemetry import context_from_traceparent, spans_exported, tracer

log = structlog.get_logger("lifeline.ingest.relay")
_LEADER_LOCK = 0x4C49464531  # "LIFE1"
LINGER_S = 0.005
"""After a batch smaller than a full read, wait this long before the next (see above)."""

RELAY_LAG = Gauge("lifeline_ingest_relay_lag_seconds",
                  "Age of the oldest unpublished event (0 when the outbox is empty).")
RELAY_LEADER = Gauge("lifeline_ingest_relay_leader", "1 while this process leads the relay.")
ACCEPT_TO_PUBLISHED = Histogram(
    "lifeline_ingest_accept_to_published_seconds", "From commit to the bus accepting the event.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def _message(row: OutboxRow) -> OutMessage:
    headers = {"traceparent": row.traceparent} if row.traceparent else {}
    return OutMessage(key=row.session_id, value=row.body, headers=headers)


class OutboxRelay:
    """Runs until stopped; `wake()` after a commit cuts publication latency to ~0."""

    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, batch: int = 1000,
                 poll_s: float = 0.2, linger_s: float = LINGER_S) -> None:
        self._pool = pool
        self._bus = bus
        self._batch = batch
        self._poll_s = poll_s
        self._linger_s = linger_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False
        self.bus_ok = True
        self.published_total = 0

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with wrap_errors("relay connect"):
                    conn = await self._pool.acquire()
            except StoreUnavailableError:
                await self._sleep(1.0)
                continue
            try:
                await self._lead(conn)
            except (TransientError, StoreError) as exc:  # the store and the bus map their drivers' errors
                log.warning("relay.interrupted", error=str(exc))
                await self._sleep(0.5)
            finally:
                self.is_leader = False
                RELAY_LEADER.set(0)
                with contextlib.suppress(Exception):
                    await self._pool.release(conn, timeout=2)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        while not await try_lead(conn, _LEADER_LOCK):
            if await self._sleep(1.0):
                return
        self.is_leader = True
        RELAY_LEADER.set(1)
        def listener(*_: object) -> None:
            self._wakeup.set()

        await listen_outbox(conn, listener)
        try:
            while not self._stopping.is_set():
                published = await self._relay_once(conn)
                if published < self._batch:
                    if published and self._linger_s > 0:  # let the next commits gather
                        await asyncio.sleep(self._linger_s)
                    await self._sleep(self._poll_s)
        finally:
            with contextlib.suppress(Exception):
                await unlisten_outbox(conn, listener)
                await stop_leading(conn, _LEADER_LOCK)

    async def _relay_once(self, conn: asyncpg.Connection) -> int:
        self._wakeup.clear()
        rows = await fetch_unpublished(conn, self._batch)
        if not rows:
            RELAY_LAG.set(0)
            return 0
        RELAY_LAG.set((datetime.now(UTC) - rows[0].recorded_at).total_seconds())
        # links only matter to an exporter; the span itself stays (it is current while publishing)
        traced = rows[:64] if spans_exported() else []
        links = [trace.Link(trace.get_current_span(ctx).get_span_context())
                 for r in traced if (ctx := context_from_traceparent(r.traceparent))]
        with tracer("lifeline.ingest").start_as_current_span(
                f"{TOPIC_EVENTS} publish", kind=trace.SpanKind.PRODUCER, links=links) as span:
            span.set_attribute("messaging.batch.message_count", len(rows))
            try:
                await self._bus.publish(TOPIC_EVENTS, [_message(r) for r in rows])
            except TransientError as exc:
                if self.bus_ok:
                    log.warning("relay.bus_unavailable", error=str(exc), pending=len(rows))
                self.bus_ok = False
                await self._sleep(1.0)
                return 0
        if not self.bus_ok:
            log.info("relay.bus_back")
        self.bus_ok = True
        await mark_published(conn, [r.id for r in rows])
        now = time.time()
        for r in rows:
            ACCEPT_TO_PUBLISHED.observe(max(0.0, now - r.recorded_at.timestamp()))
        self.published_total += len(rows)
        return len(rows)

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a wake-up, a stop or the timeout; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        return self._stopping.is_set()
