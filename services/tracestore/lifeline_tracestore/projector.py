"""The log → traces fold, as `lifeline_projection.Projection`'s batch-level apply.

The engine decodes, skips redeliveries, heals gaps from ingest's log (before its
transaction opens) and advances the checkpoints; this module only turns each
session's fresh events into rows: fold them onto the session's state
(`traces.sessions`), make one trace per event with the context after it, and write
every row and state of the batch in two statements. A row whose day has no
partition fails the batch as `PartitionsMissingError`; `PartitionedHandler`
creates the days and runs the batch again. The state each session was last saved
with by this process is kept in memory (its JSON, bounded), so a run that follows it
directly does not read it back (issue 10: one statement's rows and a ~5-7 KB jsonb
per session per batch less; see `TraceFold._kept_states` for why that is exact).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson

from lifeline_common.errors import TransientError
from lifeline_events import Event, SessionState
from lifeline_projection import SessionKey, raw_json
from lifeline_tracestore import store
from lifeline_tracestore.domain import SOURCE_EVENTS, TraceRow, day_of, fold_traces
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.metrics import STORE_LATENCY, TRACES_STORED
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.redacting import Redactor

NAME = "tracestore"
# Sessions whose latest state this process keeps in memory (~5-7 KB of JSON each).
SESSIONS_KEPT = 1024
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


class TraceFold:
    """`apply` and `after_commit` of trace-store's projection: one trace per event, exactly once."""

    def __init__(self, partitions: Partitions, freshness: Freshness,
                 redactor: Redactor | None = None, *, sessions_kept: int = SESSIONS_KEPT) -> None:
        self._partitions = partitions
        self._freshness = freshness
        self._redactor = redactor or Redactor()
        self._kept: OrderedDict[SessionKey, tuple[int, str]] = OrderedDict()
        self._sessions_kept = sessions_kept

    async def apply(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        keys = sorted(by_session)
        kept = self._kept_states(by_session)
        missing = [(k.tenant_id, k.session_id) for k in keys if k not in kept]
        stored = await store.load_sessions(conn, missing) if missing else {}
        rows: list[TraceRow] = []
        saved: list[tuple[str, str, int, str]] = []
        for key in keys:
            events = by_session[key]
            value = kept[key] if key in kept else stored.get((key.tenant_id, key.session_id))
            state = SessionState.model_validate(value) if value is not None else SessionState()
            clean, raws, redacted = self._redactor.events(events, raw_json(events))
            end, traced = fold_traces(state, clean, raws)
            if not redacted:  # the fold saw an unredacted event: redact what it made
                traced = self._redactor.rows(traced)
            if traced:
                rows.extend(traced)
                context = traced[-1].context_snapshot or ""
                saved.append((key.tenant_id, key.session_id, end.seq, context))
                if context:
                    self._keep(key, end.seq, context)
        if not rows:
            return
        if missing_days := self._partitions.missing({day_of(r.ts) for r in rows}):
            raise PartitionsMissingError(missing_days)
        await insert_rows(conn, store.insert_from_log, rows)
        await store.save_sessions(conn, saved)

    def _kept_states(self, by_session: Mapping[SessionKey, Sequence[Event]]) -> dict[SessionKey, Any]:
        """The state (as decoded JSON) this process last saved for each session whose run
        follows it directly (it starts at the locked checkpoint + 1): that state need not
        be read back from `traces.sessions`.

        Kept JSON may come from a transaction that rolled back; it is used only when the
        checkpoint is at its seq again, i.e. once the same events up to that seq are
        committed, whose fold is the same state (the fold is deterministic). The text is
        kept, not the model: a str is no work for the garbage collector, and it decodes to
        what the stored row would."""
        found: dict[SessionKey, Any] = {}
        for key, events in by_session.items():
            kept = self._kept.get(key)
            if kept is not None and kept[0] == events[0].seq - 1:
                found[key] = orjson.loads(kept[1])
        return found

    def _keep(self, key: SessionKey, seq: int, state_json: str) -> None:
        """Remember the session's state JSON at `seq`; bounded, the least recent out."""
        self._kept.pop(key, None)
        self._kept[key] = (seq, state_json)
        if len(self._kept) > self._sessions_kept:
            self._kept.popitem(last=False)

    async def after_commit(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Count and time the stored traces, and wake readers waiting for them."""
        stored = [e for events in committed.values() for e in events]
        TRACES_STORED.labels(SOURCE_EVENTS).inc(len(stored))
        now = datetime.now(UTC)
        for event in stored:
            STORE_LATENCY.observe(max(0.0, (now - event.recorded_at).total_seconds()))
        self._freshness.notify()
