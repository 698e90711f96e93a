"""The snapshot projection: fold each session's events, snapshot at the right seqs.

Runs inside `lifeline_projection.Projection`'s transaction, so the folded state, the
snapshots it takes and the checkpoint commit together: a redelivered or replayed
event can neither fold twice nor snapshot twice. `snapshot.created` goes out after
the commit (the `Announcer`), at least once.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import structlog
from prometheus_client import Counter

from lifeline_clients import IngestClient
from lifeline_events import Event, SessionState, apply
from lifeline_projection import Projection, SessionKey
from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.domain import SnapshotRow, Trigger, draft, trigger_for
from lifeline_store import wrap_errors

log = structlog.get_logger("lifeline.snapshot")

SNAPSHOTS = Counter("lifeline_snapshots_created_total", "Snapshots stored, by trigger.", ["trigger"])
RETAINED = Counter("lifeline_snapshots_retention_deleted_total", "Snapshots deleted by retention.", ["rule"])


class SnapshotProjector:
    """Folds sessions and takes snapshots; `apply` is the projection's ApplyFn."""

    def __init__(self, pool: asyncpg.Pool, announcer: Announcer, *, every: int, keep: int,
                 ingest: IngestClient | None, bus_kind: str = "") -> None:
        self._pool = pool
        self._announcer = announcer
        self._every = every
        self._keep = keep
        self._ingest = ingest
        self._to_announce: set[SessionKey] = set()
        self.projection = Projection(pool, schema="snapshot", name="snapshot", apply=self.apply,
                                     ingest=ingest, after_commit=self.after_commit, bus_kind=bus_kind)

    async def apply(self, conn: asyncpg.Connection, key: SessionKey, events: Sequence[Event]) -> None:
        stored = await store.load_state(conn, key.tenant_id, key.session_id)
        state = SessionState.model_validate(stored) if stored is not None else SessionState()
        took = False
        for event in events:
            if event.seq <= state.seq:
                continue  # already in the state: neither fold nor snapshot it again
            state = apply(state, event)
            trigger = trigger_for(event, self._every)
            if trigger is not None:
                took |= await self._take(conn, key, state, trigger)
        await store.save_state(conn, key.tenant_id, key.session_id, state.seq, state.model_dump(mode="json"))
        if took:
            self._to_announce.add(key)
            RETAINED.labels("count").inc(await store.retain_newest(conn, key.tenant_id, key.session_id,
                                                                   self._keep))

    async def _take(self, conn: asyncpg.Connection, key: SessionKey, state: SessionState,
                    trigger: Trigger, label: str | None = None) -> bool:
        _, created = await store.insert_snapshot(conn, key.tenant_id, key.session_id,
                                                 draft(state, trigger, label))
        if created:
            SNAPSHOTS.labels(trigger).inc()
        return created

    async def after_commit(self, key: SessionKey, events: Sequence[Event]) -> None:
        """Announce what this batch stored; a batch that took no snapshot costs no query.

        (If the transaction rolled back after `apply` marked a session, the next commit
        for it makes one needless query; the periodic job covers anything missed.)
        """
        if key in self._to_announce:
            self._to_announce.discard(key)
            await self._announcer.announce(tenant=key.tenant_id, session=key.session_id)

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
                row, created = await store.insert_snapshot(conn, key.tenant_id, key.session_id,
                                                           draft(stored, "on_demand", label))
                if created:
                    SNAPSHOTS.labels("on_demand").inc()
                    await store.retain_newest(conn, key.tenant_id, key.session_id, self._keep)
        await self._announcer.announce(tenant=key.tenant_id, session=key.session_id)
        return row, created
