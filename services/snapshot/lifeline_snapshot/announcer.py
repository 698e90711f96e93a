"""Publishes `snapshot.created` for stored snapshots, at least once.

The snapshot rows are the outbox: a row is announced after its transaction commits
and marked; a crash or a bus outage in between leaves it unmarked, and the periodic
job (`announce()` with no session) publishes it later. Consumers dedupe by the
event id, which is the snapshot id.
"""

from __future__ import annotations

import asyncpg
import structlog

from lifeline_bus import Bus, OutMessage
from lifeline_events import TOPIC_LIFECYCLE
from lifeline_snapshot import store
from lifeline_snapshot.domain import announcement
from lifeline_telemetry import new_traceparent

log = structlog.get_logger("lifeline.snapshot")


class Announcer:
    def __init__(self, pool: asyncpg.Pool, bus: Bus) -> None:
        self._pool = pool
        self._bus = bus

    async def announce(self, *, tenant: str | None = None, session: str | None = None) -> int:
        """Publish unannounced snapshots (of one session, or all); never raises."""
        try:
            pending = await store.unannounced(self._pool, tenant=tenant, session=session)
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
        except Exception as exc:
            log.warning("snapshot.announce_failed", session_id=session, error=repr(exc))
            return 0
