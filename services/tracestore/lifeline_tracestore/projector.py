"""The log → traces projection, batched: a fixed handful of statements per bus batch.

Same guarantees as `lifeline_projection.Projection` (whose checkpoint rules it
follows and whose metrics it reports under `projection="tracestore"`): each session's
checkpoint advances in the same transaction as its traces, so a redelivered event
is skipped by comparison with the checkpoint; an event ahead of a gap makes it read
the missing range from ingest's log first. Unlike the generic projection, which runs
a few statements per session, this one locks, inserts and advances every session of
a batch together — busy buses spread a batch over many sessions, so that is what
decides throughput.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import structlog

from lifeline_clients import IngestClient
from lifeline_common.errors import TransientError
from lifeline_events import Event, SessionState
from lifeline_projection import SessionKey
from lifeline_projection.projection import APPLIED, HEALED, SKIPPED
from lifeline_store import wrap_errors
from lifeline_tracestore import store
from lifeline_tracestore.domain import SOURCE_EVENTS, TraceRow, day_of, fold_traces
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.metrics import STORE_LATENCY, TRACES_STORED
from lifeline_tracestore.partitions import Partitions

log = structlog.get_logger("lifeline.tracestore.projector")
NAME = "tracestore"
Insert = Callable[[asyncpg.Connection, Sequence[TraceRow]], Awaitable[int]]


class PartitionsMissingError(TransientError):
    """A row's day has no partition (yet, or any more): create it and try again."""

    def __init__(self, days: Iterable[date]) -> None:
        self.days = set(days)
        super().__init__(f"no trace partition for {sorted(self.days)}")


async def insert_rows(conn: asyncpg.Connection, insert: Insert, rows: Sequence[TraceRow]) -> int:
    """Insert, turning "no partition for this row" into PartitionsMissingError."""
    try:
        return int(await insert(conn, rows))
    except asyncpg.exceptions.CheckViolationError as exc:
        if "no partition" in str(exc):
            raise PartitionsMissingError({day_of(r.ts) for r in rows}) from exc
        raise


class TraceProjector:
    """Folds each session's new events and stores one trace per event, exactly once."""

    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, freshness: Freshness,
                 ingest: IngestClient | None) -> None:
        self._pool = pool
        self._partitions = partitions
        self._freshness = freshness
        self._ingest = ingest

    async def apply_events(self, by_session: Mapping[SessionKey, Sequence[Event]]) -> int:
        """Store the traces of events past each session's checkpoint; return how many."""
        keys = sorted(by_session)
        with wrap_errors("store traces"):
            async with self._pool.acquire() as conn, conn.transaction():
                current = await store.lock_sessions(conn, [(k.tenant_id, k.session_id) for k in keys])
                rows, saved = await self._fold(keys, current, by_session)
                if not rows:
                    return 0
                if missing := self._partitions.missing({day_of(r.ts) for r in rows}):
                    raise PartitionsMissingError(missing)
                await insert_rows(conn, store.insert_from_log, rows)
                await store.save_sessions(conn, saved)
        self._committed(rows)
        return len(rows)

    async def _fold(self, keys: Sequence[SessionKey], current: Mapping[tuple[str, str], tuple[int, Any]],
                    by_session: Mapping[SessionKey, Sequence[Event]],
                    ) -> tuple[list[TraceRow], list[tuple[str, str, int, str]]]:
        """Each session's new traces, and where its checkpoint and state move to."""
        rows: list[TraceRow] = []
        saved: list[tuple[str, str, int, str]] = []
        for key in keys:
            last, state = current[(key.tenant_id, key.session_id)]
            fresh = await self._fresh(key, last, by_session[key])
            if fresh:
                end, traced = fold_traces(_state(state), fresh)
                rows.extend(traced)
                saved.append((key.tenant_id, key.session_id, end.seq, traced[-1].context_snapshot or ""))
        return rows, saved

    async def _fresh(self, key: SessionKey, last: int, events: Sequence[Event]) -> list[Event]:
        fresh = [e for e in events if e.seq > last]
        SKIPPED.labels(NAME).inc(len(events) - len(fresh))
        return await self._heal(key, last, fresh) if fresh else []

    async def _heal(self, key: SessionKey, last: int, fresh: list[Event]) -> list[Event]:
        """A contiguous run from last + 1, with holes read from ingest's log."""
        have = {e.seq: e for e in fresh}
        expected = range(last + 1, fresh[-1].seq + 1)
        missing = [s for s in expected if s not in have]
        if missing and self._ingest is not None:
            fetched = await self._ingest.events(key.tenant_id, key.session_id, after_seq=missing[0] - 1,
                                                until_seq=missing[-1])
            HEALED.labels(NAME).inc(len(fetched))
            for event in fetched:
                have.setdefault(event.seq, event)
        run = []
        for seq in expected:
            if seq not in have:
                log.warning("projection.gap_unhealed", session=key.session_id, missing_from=seq)
                break
            run.append(have[seq])
        return run

    def _committed(self, rows: Sequence[TraceRow]) -> None:
        APPLIED.labels(NAME).inc(len(rows))
        TRACES_STORED.labels(SOURCE_EVENTS).inc(len(rows))
        now = datetime.now(UTC)
        for row in rows:
            STORE_LATENCY.observe(max(0.0, (now - row.ts).total_seconds()))
        self._freshness.notify()


def _state(stored: Any) -> SessionState:
    return SessionState.model_validate(stored) if stored is not None else SessionState()
