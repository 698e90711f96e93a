"""Time travel: a session's state as it was at `until_seq` or at a moment `at`.

Starts from the newest stored state at or before that point (replay's snapshots, or
its head when the point is at or after it) and folds the events after it, from the
hot stream when it holds the whole range, else from ingest's log. `at` compares with
each event's `recorded_at` (ingest's clock): the state after the last event recorded
at or before `at`. `use_snapshots=False` folds the whole log from the first event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from lifeline_clients import IngestClient
from lifeline_events import Event, SessionState, fold
from lifeline_replay import store
from lifeline_replay.domain import contiguous_after
from lifeline_replay.errors import HotStoreUnavailableError, SessionNotFoundError
from lifeline_replay.hot import HotStore

PAGE = 1000


@dataclass(frozen=True)
class TimeTravel:
    state: SessionState
    base_seq: int
    events_folded: int
    source: str


def _before(stored: store.StoredState, until_seq: int | None, at: datetime | None) -> bool:
    if at is not None:
        return stored.recorded_at is not None and stored.recorded_at <= at
    return until_seq is not None and stored.seq <= until_seq


async def _base(pool: asyncpg.Pool, tenant: str, session: str, until_seq: int | None,
                at: datetime | None) -> store.StoredState | None:
    candidates = [await store.snapshot_until(pool, tenant, session, seq=until_seq, at=at)]
    head = await store.load_head(pool, tenant, session)
    if head is not None and _before(head, until_seq, at):
        candidates.append(head)
    found = [c for c in candidates if c is not None]
    return max(found, key=lambda c: c.seq) if found else None


async def _from_hot(hot: HotStore, tenant: str, session: str, after: int, until: int) -> list[Event] | None:
    """The events (after, until] if the hot stream holds all of them, else None."""
    try:
        entries = await hot.after(tenant, session, after, count=until - after)
    except HotStoreUnavailableError:
        return None
    if len(entries) != until - after or contiguous_after([s for s, _ in entries], after) != len(entries):
        return None
    return [Event.from_json(body) for _, body in entries]


async def _from_log_until_time(ingest: IngestClient, tenant: str, session: str, after: int,
                               at: datetime) -> list[Event]:
    out: list[Event] = []
    cursor = after
    while True:
        page = await ingest.events(tenant, session, after_seq=cursor, until_seq=cursor + PAGE)
        for event in page:
            if event.recorded_at > at:
                return out
            out.append(event)
        if len(page) < PAGE:
            return out
        cursor = page[-1].seq


async def travel(pool: asyncpg.Pool, hot: HotStore, ingest: IngestClient, tenant: str, session: str, *,
                 until_seq: int | None = None, at: datetime | None = None,
                 use_snapshots: bool = True) -> TimeTravel:
    """Fold the session up to `until_seq` or `at` (exactly one of them)."""
    stored = await _base(pool, tenant, session, until_seq, at) if use_snapshots else None
    base = SessionState.model_validate(stored.state) if stored else SessionState()
    events: list[Event] | None = None
    source = "replay"
    if until_seq is not None:
        if until_seq > base.seq:
            events = await _from_hot(hot, tenant, session, base.seq, until_seq)
        if events is None:
            source = "log"
            events = await ingest.events(tenant, session, after_seq=base.seq, until_seq=until_seq) \
                if until_seq > base.seq else []
    else:
        assert at is not None
        source = "log"
        events = await _from_log_until_time(ingest, tenant, session, base.seq, at)
    if stored is None and not events and not await ingest.events(tenant, session, until_seq=1):
        raise SessionNotFoundError(f"no session {session!r} for this tenant")
    return TimeTravel(fold(events, base), base.seq, len(events), source)
