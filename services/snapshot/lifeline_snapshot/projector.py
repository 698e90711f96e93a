"""The snapshot projection: fold each session's events, snapshot at the right seqs.

`SnapshotFold.apply` runs once per bus batch inside `lifeline_projection.Projection`'s
transaction, so the folded states, the snapshots they take and the checkpoints
commit together: a redelivered or replayed event can neither fold twice nor
snapshot twice. `snapshot.created` goes out after the commit (the `Announcer`), at
least once. `SnapshotProjector` serves the API's on-demand snapshots and catch-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
import structlog

from lifeline_clients import IngestClient
from lifeline_events import Event, SessionState, apply, canonical_json
from lifeline_projection import KeptStates, Projection, SessionKey
from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.domain import SnapshotDraft, SnapshotRow, draft, trigger_for
from lifeline_snapshot.metrics import RETAINED, SNAPSHOTS
from lifeline_store import wrap_errors
from lifeline_store.compression import CompressionPolicy

log = structlog.get_logger("lifeline.snapshot")


class SnapshotFold:
    """The batch-level `apply` and `after_commit` callbacks of snapshot's Projection.

    Each session's last folded state is kept in memory (`cache_sessions`, `KeptStates`):
    the next batch that follows it folds on it without reading and validating the stored
    JSON.
    """

    def __init__(self, announcer: Announcer, *, every: int, keep: int,
                 compression: CompressionPolicy, cache_sessions: int = 1024) -> None:
        self._announcer = announcer
        self._every = every
        self._keep = keep
        self._compression = compression
        self._to_announce: set[SessionKey] = set()
        self._kept = KeptStates(cache_sessions)

    async def _previous(self, conn: asyncpg.Connection,
                        by_session: Mapping[SessionKey, Sequence[Event]]) -> dict[SessionKey, SessionState]:
        """Each session's state just before its first new event: kept, else PostgreSQL."""
        states = self._kept.following(by_session)
        misses = sorted(k for k in by_session if k not in states)
        if misses:
            stored = await store.load_states(conn, [(k.tenant_id, k.session_id) for k in misses])
            for key in misses:
                row = stored.get((key.tenant_id, key.session_id))
                states[key] = SessionState() if row is None else SessionState.model_validate(row)
        return states

    async def apply(self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Fold every session of the batch; per batch, not per session or snapshot: the
        states saved in one statement, the snapshots taken in one, count retention of the
        sessions that took one in one more."""
        keys = sorted(by_session)
        previous = await self._previous(conn, by_session)
        saved: list[tuple[str, str, int, bytes]] = []
        drafts: list[tuple[str, str, SnapshotDraft]] = []
        for key in keys:
            state = self._fold(key, previous[key], by_session[key], drafts)
            self._kept.keep(key, state)
            saved.append((key.tenant_id, key.session_id, state.seq, canonical_json(state)))
        if drafts:
            created = await store.insert_snapshots(conn, drafts, self._compression)
            took = sorted({SessionKey(t, s) for t, s, d in drafts if d.id in created})
            for _, _, d in drafts:
                if d.id in created:
                    SNAPSHOTS.labels(d.trigger).inc()
            if took:
                self._to_announce.update(took)
                RETAINED.labels("count").inc(await store.retain_newest_of(
                    conn, [(k.tenant_id, k.session_id) for k in took], self._keep))
        await store.save_states(conn, saved, self._compression)

    def _fold(self, key: SessionKey, state: SessionState, events: Sequence[Event],
              drafts: list[tuple[str, str, SnapshotDraft]]) -> SessionState:
        """The session's new state; the snapshots it is due are added to `drafts`."""
        for event in events:
            if event.seq <= state.seq:
                continue  # already in the state: neither fold nor snapshot it again
            state = apply(state, event)
            trigger = trigger_for(event, self._every)
            if trigger is not None:
                drafts.append((key.tenant_id, key.session_id, draft(state, trigger)))
        return state

    async def after_commit(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Announce what this batch stored, all its sessions at once; a batch that took no
        snapshot costs no query.

        (If the transaction rolled back after `apply` marked a session, the next commit
        for it makes one needless query; the periodic job covers anything missed.)
        """
        due = [key for key in sorted(committed) if key in self._to_announce]
        self._to_announce.difference_update(due)
        await self._announcer.announce_sessions([(k.tenant_id, k.session_id) for k in due])


class SnapshotProjector:
    """On-demand snapshots and catch-up, over the same projection the bus feeds."""

    def __init__(self, pool: asyncpg.Pool, announcer: Announcer, projection: Projection,
                 ingest: IngestClient | None, *, keep: int, compression: CompressionPolicy) -> None:
        self._pool = pool
        self._compression = compression
        self._announcer = announcer
        self.projection = projection
        self._ingest = ingest
        self._keep = keep

    async def catch_up(self, key: SessionKey) -> None:
        """Apply what ingest's log has beyond our checkpoint (best effort).

        On-demand snapshots and recaps then reflect every event accepted before the
        request, not just what the bus has delivered so far.
        """
        if self._ingest is None:
            return
        try:
            last = await self.projection.checkpoint(key)
            events = await self._ingest.events(key.tenant_id, key.session_id, after_seq=last)
            if events:
                await self.projection.apply_events({key: events})
        except Exception as exc:
            log.warning("snapshot.catch_up_failed", session_id=key.session_id, error=repr(exc))

    async def snapshot_now(self, key: SessionKey, label: str | None) -> tuple[SnapshotRow, bool] | None:
        """An on-demand snapshot of the session's current state; None if we never saw it."""
        await self.catch_up(key)
        with wrap_errors("take snapshot"):
            async with self._pool.acquire() as conn, conn.transaction():
                stored = await store.load_state(conn, key.tenant_id, key.session_id)
                if stored is None:
                    return None
                snap = draft(stored, "on_demand", label)
                row, created = await store.insert_snapshot(conn, key.tenant_id, key.session_id, snap,
                                                           self._compression)
                if created:
                    SNAPSHOTS.labels("on_demand").inc()
                    await store.retain_newest_of(conn, [(key.tenant_id, key.session_id)], self._keep)
        await self._announcer.announce(tenant=key.tenant_id, session=key.session_id)
        return row, created
