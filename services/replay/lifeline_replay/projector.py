"""The replay projection: fold each session's new events and publish them hot.

`apply` runs inside the projection's PostgreSQL transaction (see lifeline_projection):
it folds the events onto the session's head, writes events + head (+ snapshot) to
Redis, then the head (+ snapshot) to PostgreSQL; the checkpoint commits with them.
Redis is written first and its writes are idempotent, so a crash or rollback after
it only means the same batch is written again on redelivery. If Redis is down the
batch fails as transient and the bus retries it: the projection waits for Redis,
while readers fall back to ingest's log (the recovery ladder).

By default the transaction commits without waiting for the WAL flush
(`synchronous_commit = off`): a disk stall then no longer holds every live event back.
What a PostgreSQL crash can lose is the last fraction of a second of *derived* rows;
the checkpoint rolls back with them, Redis still holds the events, and the session's
next event heals the gap from ingest's log.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import asyncpg

from lifeline_events import Event, SessionState, apply, canonical_json
from lifeline_projection import SessionKey, raw_json
from lifeline_replay import store
from lifeline_replay.domain import snapshot_due
from lifeline_replay.hot import Folded, HotStore
from lifeline_replay.metrics import PROJECTION_LAG, SNAPSHOTS


def _folded(event: Event, state: SessionState) -> Folded:
    return Folded(state.seq, canonical_json(state), event.recorded_at.isoformat())


class ReplayProjector:
    """The batch-level `apply` and `after_commit` callbacks of replay's Projection."""

    def __init__(self, hot: HotStore, *, snapshot_every: int, snapshot_keep: int,
                 cache_sessions: int = 10_000, sync_commit: bool = False) -> None:
        self._hot = hot
        self._sync_commit = sync_commit
        self._every = snapshot_every
        self._keep = snapshot_keep
        self._cache: OrderedDict[SessionKey, SessionState] = OrderedDict()
        self._cache_max = cache_sessions
        self._pending: dict[SessionKey, SessionState] = {}

    async def _previous(self, conn: asyncpg.Connection, key: SessionKey, before: int) -> SessionState:
        """The head at seq `before`: from the cache when it is exactly there, else PostgreSQL.

        The head row commits with the checkpoint, so the stored head is at `before`.
        """
        cached = self._cache.get(key)
        if cached is not None and cached.seq == before:
            return cached
        row = await store.load_head(conn, key.tenant_id, key.session_id)
        return SessionState() if row is None else SessionState.model_validate(row.state)

    async def apply(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Fold and write every session of the batch (inside the batch's transaction)."""
        for key in sorted(by_session):
            await self._apply_session(conn, key, by_session[key])

    async def _apply_session(self, conn: asyncpg.Connection, key: SessionKey,
                             events: Sequence[Event]) -> None:
        state = await self._previous(conn, key, events[0].seq - 1)
        snapshots: list[tuple[Event, Folded]] = []
        for event in events:
            state = apply(state, event)
            if snapshot_due(event.seq, self._every):
                snapshots.append((event, _folded(event, state)))
        head = _folded(events[-1], state)
        # Redis and PostgreSQL in parallel: both finish before the commit, and a failure of
        # either rolls the batch back (Redis being ahead of the checkpoint is harmless)
        await asyncio.gather(
            self._hot.write(key.tenant_id, key.session_id,
                            [(e.seq, raw) for e, raw in zip(events, raw_json(events), strict=True)],
                            head, snapshots[-1][1] if snapshots else None),
            store.save_head(conn, key.tenant_id, key.session_id, head.seq, head.state.decode(),
                            events[-1].recorded_at, sync_commit=self._sync_commit))
        for event, snap in snapshots:
            await store.save_snapshot(conn, key.tenant_id, key.session_id, snap.seq, snap.state.decode(),
                                      hashlib.sha256(snap.state).hexdigest(), event.recorded_at, self._keep)
        SNAPSHOTS.inc(len(snapshots))
        self._pending[key] = state

    async def after_commit(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Cache the committed heads (the next batch folds on them) and report the lag."""
        for key, events in committed.items():
            state = self._pending.pop(key, None)
            if state is not None and state.seq == events[-1].seq and self._cache_max:
                self._cache[key] = state
                self._cache.move_to_end(key)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)
        newest = max(events[-1].recorded_at.timestamp() for events in committed.values())
        PROJECTION_LAG.set(max(0.0, time.time() - newest))
