"""The log → traces fold, as `lifeline_projection.Projection`'s batch-level apply.

The engine decodes, skips redeliveries, heals gaps from ingest's log (before its
transaction opens) and advances the checkpoints; this module only turns each
session's fresh events into rows: fold them onto the session's state
(`traces.sessions`), make one trace per event (its context stored on anchor rows only,
`domain.is_anchor`: the others are rebuilt on read by folding the stored events), and write
every row and state of the batch in two statements. A row whose day has no
partition fails the batch as `PartitionsMissingError`; `PartitionedHandler`
creates the days and runs the batch again. The state each session was last folded
to by this process is kept in memory (bounded), so a run that follows it directly
neither reads it back nor validates it again (issue 10: per session per batch, a
~5-7 KB jsonb read and a pydantic validation less; `lifeline_projection.KeptStates` says
why that is exact).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson

from lifeline_common.errors import TransientError
from lifeline_events import Event, SessionState, canonical_json
from lifeline_projection import KeptStates, SessionKey, raw_json
from lifeline_store.compression import CompressionPolicy
from lifeline_tracestore import session_states, store
from lifeline_tracestore.domain import CONTEXT_EVERY, SOURCE_EVENTS, TraceRow, day_of, fold_traces
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.metrics import STORE_LATENCY, TRACES_STORED
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.redacting import Redactor

NAME = "tracestore"
# Sessions whose latest state this process keeps in memory (a ~5-7 KB state is ~30-40 KiB
# of Python objects).
SESSIONS_KEPT = 512
Insert = Callable[[asyncpg.Connection, Sequence[TraceRow]], Awaitable[int]]


class PartitionsMissingError(TransientError):
    """A row's day has no partition (yet, or any more): create it and try again."""

    def __init__(self, days: Iterable[date]) -> None:
        self.days = set(days)
        super().__init__(f"no trace partition for {sorted(self.days)}")


def _state(stored: Any) -> SessionState:
    return SessionState.model_validate(stored) if stored is not None else SessionState()


async def insert_rows(conn: asyncpg.Connection, insert: Insert, rows: Sequence[TraceRow]) -> int:
    """Insert, turning "no partition for this row" into PartitionsMissingError."""
    try:
        return int(await insert(conn, rows))
    except asyncpg.exceptions.CheckViolationError as exc:
        if "no partition" in str(exc):
            raise PartitionsMissingError({day_of(r.ts) for r in rows}) from exc
        raise


def _saved(key: SessionKey, end: SessionState, last: str | None, *,
           whole: bool) -> session_states.SavedSession:
    """The session's state to save: the fold's end state (the run's last context, when that
    row carries one, is its canonical JSON already), or that context when the run's contexts
    were redacted `whole` after the fold (then it differs from the fold, and is what is kept)."""
    if whole and last is not None:
        state, document = last.encode(), orjson.loads(last)
        person, origin = document.get("person_id"), document.get("branched_from")
    else:
        state, person = (last.encode() if last is not None else canonical_json(end)), end.person_id
        origin = None if end.branched_from is None else end.branched_from.model_dump(mode="json")
    return session_states.SavedSession(key.tenant_id, key.session_id, end.seq, state, person,
                              None if origin is None else orjson.dumps(origin).decode())


class TraceFold:
    """`apply` and `after_commit` of trace-store's projection: one trace per event, exactly once."""

    def __init__(self, partitions: Partitions, freshness: Freshness,
                 redactor: Redactor | None = None, *, sessions_kept: int = SESSIONS_KEPT,
                 context_every: int = CONTEXT_EVERY, compression: CompressionPolicy | None = None) -> None:
        self._partitions = partitions
        self._compression = compression or CompressionPolicy()
        self._every = context_every
        self._freshness = freshness
        self._redactor = redactor or Redactor()
        self._kept = KeptStates(sessions_kept)

    async def apply(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        keys = sorted(by_session)
        kept = self._kept.following(by_session)
        missing = [(k.tenant_id, k.session_id) for k in keys if k not in kept]
        stored = await session_states.load_sessions(conn, missing) if missing else {}
        rows: list[TraceRow] = []
        saved: list[session_states.SavedSession] = []
        for key in keys:
            events = by_session[key]
            state = kept[key] if key in kept else _state(stored.get((key.tenant_id, key.session_id)))
            clean, raws, redacted = self._redactor.events(events, raw_json(events))
            # Contexts redacted whole after the fold are not what folding the stored
            # (redacted) events gives: then every row must keep its own.
            end, traced = fold_traces(state, clean, raws, every=self._every if redacted else 1)
            if not redacted:  # the fold saw an unredacted event: redact what it made
                traced = self._redactor.rows(traced)
            if traced:
                rows.extend(traced)
                saved.append(_saved(key, end, traced[-1].context_snapshot, whole=not redacted))
            # an unredacted fold's state is not what was saved (the redacted context): forget it
            self._kept.keep(key, end if redacted else None)
        if not rows:
            return
        if missing_days := self._partitions.missing({day_of(r.ts) for r in rows}):
            raise PartitionsMissingError(missing_days)
        await insert_rows(conn, store.insert_from_log, rows)
        await session_states.save_sessions(conn, saved, self._compression)

    async def after_commit(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Count and time the stored traces, and wake readers waiting for them."""
        stored = [e for events in committed.values() for e in events]
        TRACES_STORED.labels(SOURCE_EVENTS).inc(len(stored))
        now = datetime.now(UTC)
        for event in stored:
            STORE_LATENCY.observe(max(0.0, (now - event.recorded_at).total_seconds()))
        self._freshness.notify()
