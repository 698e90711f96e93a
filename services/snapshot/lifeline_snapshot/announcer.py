"""Publishes `snapshot.created` for stored snapshots, at least once.

The snapshot rows are the outbox: a row is announced after its transaction commits
and marked; a crash or a bus outage in between leaves it unmarked, and the periodic
job (`announce()` with no session) publishes it later. Consumers dedupe by the
event id, which is the snapshot id.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import structlog

from lifeline_bus import Bus, OutMessage
from lifeline_events import TOPIC_LIFECYCLE
from lifeline_snapshot import store
from lifeline_snapshot.domain import SnapshotRow, announcement
from lifeline_telemetry import new_traceparent

log = structlog.get_logger("lifeline.snapshot")


class Announcer:
    def __init__(self, pool: asyncpg.Pool, bus: Bus) -> None:
        self._pool = pool
        self._bus = bus

    async def announce(self, *, tenant: str | None = None, session: str | None = None) -> int:
        """Publish unannounced snapshots (of one session, or all); never raises."""
        try:
            return await self._publish(await store.unannounced(self._pool, tenant=tenant, session=session))
        except Exception as exc:
            log.warning("snapshot.announce_failed", session_id=session, error=repr(exc))
            return 0

    async def announce_sessions(self, sessions: Sequence[tuple[str, str]]) -> int:
        """`announce` for a batch's (tenant, session) pairs: one query, one publish and one
        mark for all of them, not three round trips per session; never raises."""
        if not sessions:
            return 0
        try:
            return await self._publish(await store.unannounced_of(self._pool, sessions,
                                                                  limit=500 * len(sessions)))
        except Exception as exc:
            log.warning("snapshot.announce_failed", sessions=len(sessions), error=repr(exc))
            return 0

    async def _publish(self, pending: list[tuple[SnapshotRow, str | None]]) -> int:
        """Publish `pending`, then mark it announced (a crash in between publishes it again)."""
        if not pending:
            return 0
        messages = []
        for row, person in pending:
            traceparent = new_traceparent()  # the request's when there is one, else its own
            try:
                messages.append(OutMessage(key=row.session_id, headers={"traceparent": traceparent},
                                           value=announcement(row, person, traceparent).to_json_bytes()))
            except ValueError as exc:  # a row no valid event can describe must not block the rest
                log.error("snapshot.unannounceable", snapshot_id=row.id, error=str(exc))
        await self._bus.publish(TOPIC_LIFECYCLE, messages)
        await store.mark_announced(self._pool, [row.id for row, _ in pending])
        return len(messages)
