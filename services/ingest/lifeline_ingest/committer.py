"""Group commit: many concurrent append requests share one transaction.

Waiting for one durable commit per event caps a connection near 3,000 events/s on
this class of machine (PERF-NOTES). Requests queue here; each committer worker takes
everything queued (up to `max_events`), plans and writes it in one transaction,
and answers every request. Under light load a request commits alone and at once;
under heavy load batches grow by themselves. A request that fails planning (seq
conflict, foreign event id) fails alone; the rest of its group still commits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from lifeline_events import Event, NewEvent, new_event_id
from lifeline_ingest.domain import AppendRejectedError, Outcome, plan_append
from lifeline_ingest.store import SessionKey, advance_sessions, insert_events, load_known, lock_sessions
from lifeline_store import StoreConflictError, wrap_errors

log = structlog.get_logger("lifeline.ingest")

EVENTS = Counter("lifeline_ingest_events_total", "Events by outcome and source.",
                 ["outcome", "source"])
COMMIT_SIZE = Histogram("lifeline_ingest_commit_events", "Events per group commit.",
                        buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500))
COMMIT_SECONDS = Histogram("lifeline_ingest_commit_seconds", "Duration of one group commit.",
                           buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))


@dataclass
class AppendRequest:
    """One caller's events for one session, answered through `future`."""

    tenant_id: str
    session_id: str
    events: Sequence[NewEvent]
    expected_seq: int | None = None
    traceparent: str | None = None
    source: str = "http"
    future: asyncio.Future[list[Outcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> SessionKey:
        return SessionKey(self.tenant_id, self.session_id)


class GroupCommitter:
    """Owns the write path into `ingest.events`; `on_commit` wakes the relay."""

    def __init__(self, pool: asyncpg.Pool, *, workers: int = 2, max_events: int = 2000,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[AppendRequest] = asyncio.Queue()
        self._workers = workers
        self._max_events = max_events
        self._on_commit = on_commit
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"committer-{i}")
                       for i in range(self._workers)]

    async def stop(self) -> None:
        """Finish what is queued, then stop the workers."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def append(self, request: AppendRequest) -> list[Outcome]:
        if any(t.done() for t in self._tasks) or not self._tasks:
            raise RuntimeError("the committer is not running")
        await self._queue.put(request)
        return await request.future

    def _take_group(self, first: AppendRequest) -> list[AppendRequest]:
        group, size = [first], len(first.events)
        while size < self._max_events and not self._queue.empty():
            request = self._queue.get_nowait()
            group.append(request)
            size += len(request.events)
        return group

    async def _run(self) -> None:
        while True:
            group = self._take_group(await self._queue.get())
            try:
                await self._commit_group(group)
            finally:
                for _ in group:
                    self._queue.task_done()

    async def _commit_group(self, group: list[AppendRequest]) -> None:
        started = time.perf_counter()
        try:
            answers = await self._write(group)
        except StoreConflictError:
            if len(group) == 1:
                answers = {0: StoreConflictError("append conflicted with a concurrent write")}
            else:  # isolate the conflicting request; the others commit alone
                for request in group:
                    await self._commit_group([request])
                return
        except Exception as exc:
            answers = {i: exc for i in range(len(group))}
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for i, request in enumerate(group):
            answer = answers[i]
            if request.future.done():
                continue
            if isinstance(answer, BaseException):
                EVENTS.labels("rejected", request.source).inc(len(request.events))
                request.future.set_exception(answer)
            else:
                dup = sum(1 for o in answer if o.duplicate)
                EVENTS.labels("duplicate", request.source).inc(dup)
                EVENTS.labels("accepted", request.source).inc(len(answer) - dup)
                request.future.set_result(answer)

    async def _write(self, group: list[AppendRequest]) -> dict[int, list[Outcome] | BaseException]:
        now = datetime.now(UTC)
        answers: dict[int, list[Outcome] | BaseException] = {}
        with wrap_errors("append events"):
            async with self._pool.acquire() as conn, conn.transaction():
                cursors = await lock_sessions(conn, [r.key for r in group])
                turn_keys = [(r.key, e.turn_id) for r in group for e in r.events if e.turn_id is not None]
                event_ids: list[UUID] = [e.event_id for r in group for e in r.events if e.event_id]
                await load_known(conn, cursors, turn_keys, event_ids)
                rows: list[Event] = []
                persons: dict[tuple[str, str], str | None] = {}
                for i, request in enumerate(group):
                    cursor = cursors[request.key]
                    before = cursor.last_seq
                    try:
                        planned, outcomes = plan_append(
                            cursor, request.events, expected_seq=request.expected_seq, now=now,
                            new_id=new_event_id, traceparent=request.traceparent)
                    except AppendRejectedError as exc:
                        cursor.last_seq = before
                        answers[i] = exc
                        continue
                    rows.extend(planned)
                    answers[i] = outcomes
                    for e in planned:
                        persons.setdefault((e.tenant_id, e.session_id), e.person_id)
                if rows:
                    await insert_events(conn, rows)
                    touched = {(e.tenant_id, e.session_id) for e in rows}
                    await advance_sessions(
                        conn, [c for c in cursors.values() if (c.tenant_id, c.session_id) in touched],
                        persons)
        COMMIT_SIZE.observe(len(rows))
        if rows:
            self._on_commit()
        return answers
