"""Group commit: many concurrent append requests share one transaction.

Waiting for one durable commit per event caps a connection near 3,000 events/s on
this class of machine (docs/operations.md). Requests queue here; each committer worker takes
everything queued (up to `max_events`), plans it and writes it in one statement,
and answers every request. Under light load a request commits alone and at once;
under heavy load batches grow by themselves. A request that fails planning (seq
conflict, foreign event id) fails alone; the rest of its group still commits. A group
whose write loses a race to another process (store.py) is re-read and re-planned. A
group whose statement fails for any other non-transient reason is retried one request
at a time, so a request fails only for its own content, never for a neighbour's.
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

from lifeline_common.errors import TransientError
from lifeline_events import Event, NewEvent, Room, new_event_id
from lifeline_ingest.conflict_commit import ConflictPlanner, ConflictRules, Stale, wants_range
from lifeline_ingest.conflicts_store import read_missed
from lifeline_ingest.domain import Outcome, SessionCursor, guard_branch_start, plan_append
from lifeline_ingest.errors import AppendContentionError, AppendRejectedError
from lifeline_ingest.room import RoomCommand
from lifeline_ingest.store import SessionKey, read_cursors, write_appends
from lifeline_store import StoreConflictError, wrap_errors

log = structlog.get_logger("lifeline.ingest")

EVENTS = Counter("lifeline_ingest_events_total", "Events by outcome and source.",
                 ["outcome", "source"])
COMMIT_SIZE = Histogram("lifeline_ingest_commit_events", "Events per group commit.",
                        buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500))
RETRIES = Counter("lifeline_ingest_commit_retries_total",
                  "Group commits re-planned because a concurrent writer took a seq or a turn first.")
ISOLATIONS = Counter("lifeline_ingest_commit_isolations_total",
                     "Group commits whose statement failed and were retried one request at a time.")
_ATTEMPTS = 5
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
    participant_id: str | None = None
    on_conflict: str | None = None
    lock_token: int | None = None
    command: RoomCommand | None = None
    room: Room | None = None
    """The session's room once this request is planned (set by the committer)."""
    stale: Stale | None = None
    """How a stale batch was merged (set by the committer; see conflict_commit.py)."""
    future: asyncio.Future[list[Outcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> SessionKey:
        return SessionKey(self.tenant_id, self.session_id)


class GroupCommitter:
    """Owns the write path into `ingest.events`; `on_commit` wakes the relay."""

    def __init__(self, pool: asyncpg.Pool, *, workers: int = 2, max_events: int = 2000,
                 on_commit: Callable[[], None] = lambda: None,
                 conflicts: ConflictRules = ConflictRules()) -> None:
        self._pool = pool
        self._conflicts = ConflictPlanner(conflicts, new_event_id)
        # one queue per worker, a session always on the same one: workers of one process
        # never race each other for a session's next seq
        self._queues: list[asyncio.Queue[AppendRequest]] = [asyncio.Queue() for _ in range(workers)]
        self._workers = workers
        self._max_events = max_events
        self._on_commit = on_commit
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(q), name=f"committer-{i}")
                       for i, q in enumerate(self._queues)]

    async def stop(self) -> None:
        """Finish what is queued, then stop the workers."""
        for queue in self._queues:
            await queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def append(self, request: AppendRequest) -> list[Outcome]:
        if any(t.done() for t in self._tasks) or not self._tasks:
            raise RuntimeError("the committer is not running")
        await self._queues[hash(request.key) % len(self._queues)].put(request)
        return await request.future

    def _take_group(self, queue: asyncio.Queue[AppendRequest], first: AppendRequest) -> list[AppendRequest]:
        group, size = [first], len(first.events)
        while size < self._max_events and not queue.empty():
            request = queue.get_nowait()
            group.append(request)
            size += len(request.events)
        return group

    async def _run(self, queue: asyncio.Queue[AppendRequest]) -> None:
        while True:
            group = self._take_group(queue, await queue.get())
            try:
                await self._commit_group(group)
            finally:
                for _ in group:
                    queue.task_done()

    async def _commit_group(self, group: list[AppendRequest]) -> None:
        started = time.perf_counter()
        answers: dict[int, list[Outcome] | BaseException] = {}
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                answers = await self._write(group)
                break
            except StoreConflictError as exc:  # a concurrent writer won: re-read, re-plan
                if attempt == _ATTEMPTS:
                    busy = AppendContentionError(f"session busy with other writers, retry: {exc}")
                    answers = {i: busy for i in range(len(group))}
                else:
                    RETRIES.inc()
                    await asyncio.sleep(0.001 * attempt)
            except TransientError as exc:  # the database is away: every request fails alike
                answers = {i: exc for i in range(len(group))}
                break
            except Exception as exc:
                if len(group) > 1:  # isolate the culprit: nothing of the group was written
                    ISOLATIONS.inc()
                    for request in group:
                        await self._commit_group([request])
                    return
                answers = {0: exc}
                break
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for i, request in enumerate(group):
            self._answer(request, answers[i])

    def _answer(self, request: AppendRequest, answer: list[Outcome] | BaseException) -> None:
        if request.future.done():
            return
        if isinstance(answer, BaseException):
            EVENTS.labels("rejected", request.source).inc(len(request.events))
            request.future.set_exception(answer)
            return
        dup = sum(1 for o in answer if o.duplicate)
        EVENTS.labels("duplicate", request.source).inc(dup)
        EVENTS.labels("accepted", request.source).inc(len(answer) - dup)
        request.future.set_result(answer)

    async def _write(self, group: list[AppendRequest]) -> dict[int, list[Outcome] | BaseException]:
        now = datetime.now(UTC)
        answers: dict[int, list[Outcome] | BaseException] = {}
        rows: list[Event] = []
        persons: dict[tuple[str, str], str | None] = {}
        with wrap_errors("append events"):
            async with self._pool.acquire() as conn:
                turn_keys = [(r.key, e.turn_id) for r in group for e in r.events if e.turn_id is not None]
                event_ids: list[UUID] = [e.event_id for r in group for e in r.events if e.event_id]
                cursors = await read_cursors(conn, [r.key for r in group], turn_keys, event_ids)
                stale = [(i, r.key, r.expected_seq or 0) for i, r in enumerate(group) if wants_range(
                    r.expected_seq, r.on_conflict, cursors[r.key], self._conflicts.rules)]
                logged = await read_missed(conn, stale, cursors) if stale else {}
                for i, request in enumerate(group):
                    answers[i] = self._plan(request, cursors[request.key], now, rows, persons, logged.get(i))
                if rows:
                    touched = {(e.tenant_id, e.session_id) for e in rows}
                    await write_appends(
                        conn, rows, [c for c in cursors.values() if (c.tenant_id, c.session_id) in touched],
                        persons)
        COMMIT_SIZE.observe(len(rows))
        if rows:
            self._on_commit()
        return answers

    def _plan(self, request: AppendRequest, cursor: SessionCursor, now: datetime, rows: list[Event],
              persons: dict[tuple[str, str], str | None],
              logged: list[Event] | None = None) -> list[Outcome] | BaseException:
        """Plan one request onto the group's rows; a refused request leaves no trace.

        A stale batch under a merging strategy, or a write while a conflict is open, is
        planned by the conflict planner (`logged`: the events since its expected_seq)."""
        before, room_before = cursor.last_seq, (cursor.room, cursor.room_changed)
        outcomes: list[Outcome] | BaseException
        try:
            guard_branch_start(cursor, request.events if request.command is None else ())
            merged = self._conflicts.plan(request, cursor, logged, rows, now) if (
                request.expected_seq is not None or cursor.room is not None) else None
            if merged is not None:
                planned, outcomes = merged
            else:
                planned, outcomes = plan_append(
                    cursor, request.events, expected_seq=request.expected_seq, now=now, new_id=new_event_id,
                    traceparent=request.traceparent, writer=request.participant_id,
                    lock_token=request.lock_token, command=request.command)
        except AppendRejectedError as exc:
            cursor.last_seq = before
            cursor.room, cursor.room_changed = room_before
            return exc
        request.room = cursor.room
        rows.extend(planned)
        for e in planned:
            persons.setdefault((e.tenant_id, e.session_id), e.person_id)
        return outcomes
