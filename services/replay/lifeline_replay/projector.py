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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from lifeline_events import Event, SessionState, apply, canonical_json
from lifeline_projection import KeptStates, SessionKey, raw_json
from lifeline_replay import store
from lifeline_replay.domain import snapshot_due
from lifeline_replay.hot import Folded, HotBatch, HotStore
from lifeline_replay.metrics import PROJECTION_LAG, SNAPSHOTS
from lifeline_store.compression import CompressionPolicy


def _folded(event: Event, state: SessionState) -> Folded:
    return Folded(state.seq, canonical_json(state), event.recorded_at.isoformat())


@dataclass(frozen=True)
class _Folding:
    """One session of a batch, folded: its new state, head and due snapshots."""

    state: SessionState
    head: Folded
    snapshots: list[tuple[Event, Folded]]


class ReplayProjector:
    """The batch-level `apply` and `after_commit` callbacks of replay's Projection."""

    def __init__(self, hot: HotStore, *, snapshot_every: int, snapshot_keep: int,
                 cache_sessions: int = 10_000, sync_commit: bool = False,
                 compression: CompressionPolicy | None = None) -> None:
        self._hot = hot
        self._compression = compression or CompressionPolicy()
        self._sync_commit = sync_commit
        self._every = snapshot_every
        self._keep = snapshot_keep
        self._kept = KeptStates(cache_sessions)

    async def _previous(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]
                        ) -> dict[SessionKey, SessionState]:
        """Each session's head just before its first new seq: kept (`KeptStates`) when it
        is exactly there, else PostgreSQL (one query for every miss of the batch).

        The head row commits with the checkpoint, so the stored head is at that seq.
        """
        heads = self._kept.following(by_session)
        misses = [k for k in by_session if k not in heads]
        if misses:
            rows = await store.load_heads(conn, [(k.tenant_id, k.session_id) for k in misses])
            for key in misses:
                row = rows.get((key.tenant_id, key.session_id))
                heads[key] = SessionState() if row is None else SessionState.model_validate(row.state)
        return heads

    def _fold(self, state: SessionState, events: Sequence[Event]) -> _Folding:
        snapshots: list[tuple[Event, Folded]] = []
        for event in events:
            state = apply(state, event)
            if snapshot_due(event.seq, self._every):
                snapshots.append((event, _folded(event, state)))
        return _Folding(state, _folded(events[-1], state), snapshots)

    async def apply(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Fold every session of the batch, then write the batch to Redis and PostgreSQL.

        Redis and PostgreSQL are written in parallel: both finish before the commit, and a
        failure of either rolls the batch back (Redis being ahead of the checkpoint is harmless).
        """
        keys = sorted(by_session)
        previous = await self._previous(conn, by_session)
        folded = {k: self._fold(previous[k], by_session[k]) for k in keys}
        heads = [store.Head(k.tenant_id, k.session_id, f.head.seq, f.head.state,
                            by_session[k][-1].recorded_at) for k, f in folded.items()]
        await asyncio.gather(self._write_hot(by_session, folded),
                             store.save_heads(conn, heads, self._compression, sync_commit=self._sync_commit))
        snapshots = [store.Snapshot(k.tenant_id, k.session_id, snap.seq, snap.state.decode(),
                                    hashlib.sha256(snap.state).hexdigest(), event.recorded_at)
                     for k, f in folded.items() for event, snap in f.snapshots]
        if snapshots:
            await store.save_snapshots(conn, snapshots, self._keep)
            SNAPSHOTS.inc(len(snapshots))
        for key, f in folded.items():
            self._kept.keep(key, f.state)

    async def _write_hot(self, by_session: Mapping[SessionKey, Sequence[Event]],
                         folded: Mapping[SessionKey, _Folding]) -> None:
        """Every session's events (as delivered) and head to Redis, in one round trip
        (per-batch round trips, not Python, are what a batch of a few sessions costs)."""
        batches = []
        for key, f in folded.items():
            events = by_session[key]
            entries = [(e.seq, raw) for e, raw in zip(events, raw_json(events), strict=True)]
            batches.append(HotBatch(key.tenant_id, key.session_id, entries, f.head,
                                    f.snapshots[-1][1] if f.snapshots else None))
        await self._hot.write_batches(batches)

    async def after_commit(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Report the projection's lag (the heads were kept as they were folded)."""
        newest = max(events[-1].recorded_at.timestamp() for events in committed.values())
        PROJECTION_LAG.set(max(0.0, time.time() - newest))
