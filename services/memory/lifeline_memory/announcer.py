"""Publishes ``profile.consolidated`` (and ``profile.forgotten``) at least once.

The version rows are the outbox: published after their transaction commits, then
marked; a crash or a bus outage in between leaves them unmarked and the sweeper
publishes them later. Consumers dedupe by ``event_id`` (uuid5 of tenant, person,
version and hash), so a re-publish after a crash is the same event, never a new one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter

from lifeline_bus import Bus, OutMessage
from lifeline_events import EVENT_TYPES, TOPIC_LIFECYCLE, Event

log = structlog.get_logger("lifeline.memory")
ANNOUNCED = Counter(
    "lifeline_memory_announced_total", "Lifecycle events published by memory.", ["event_type"]
)
FORGOTTEN_TYPE = "profile.forgotten"


def consolidated_event(row: asyncpg.Record) -> Event:
    summary = row["summary"]
    return Event.model_validate(
        {
            "event_id": row["event_id"],
            "event_type": "profile.consolidated",
            "tenant_id": row["tenant_id"],
            "session_id": row["source_session_id"],
            "person_id": row["person_id"],
            "seq": max(1, row["source_seq"] or 1),
            "occurred_at": row["created_at"],
            "recorded_at": row["created_at"],
            "traceparent": row["traceparent"],
            "payload": {
                "person_id": row["person_id"],
                "source_session_id": row["source_session_id"],
                "profile_version": row["version"],
                **summary,
            },
        }
    )


def forgotten_event(
    *,
    event_id: Any,
    tenant: str,
    person: str,
    session: str,
    seq: int,
    scope: str,
    forgotten_session: str | None,
    reason: str | None,
    traceparent: str | None,
) -> Event:
    """``profile.forgotten``; a library without that type gets spec §C's fallback, an empty
    ``profile.consolidated``."""
    now = datetime.now(UTC)
    envelope = {
        "event_id": event_id,
        "tenant_id": tenant,
        "session_id": session,
        "person_id": person,
        "seq": max(1, seq),
        "occurred_at": now,
        "recorded_at": now,
        "traceparent": traceparent,
    }
    if FORGOTTEN_TYPE in EVENT_TYPES:
        return Event.model_validate(
            {
                **envelope,
                "event_type": FORGOTTEN_TYPE,
                "payload": {
                    "person_id": person,
                    "scope": scope,
                    "session_id": forgotten_session,
                    "reason": (reason or "")[:500] or None,
                },
            }
        )
    return Event.model_validate(
        {
            **envelope,
            "event_type": "profile.consolidated",
            "payload": {
                "person_id": person,
                "source_session_id": session,
                "sessions_count": 0,
                "summary": f"forgotten ({scope})",
            },
        }
    )


class Announcer:
    """One publisher at a time per outbox row: rows are claimed with ``FOR UPDATE SKIP LOCKED``
    inside the transaction that marks them, so the after-commit path, the sweeper and other
    replicas never publish the same version twice (a crash after publish and before commit
    still can: consumers dedupe by ``event_id``)."""

    def __init__(self, pool: asyncpg.Pool, bus: Bus) -> None:
        self._pool = pool
        self._bus = bus
        self._lock = asyncio.Lock()

    async def announce(self, *, tenant: str | None = None, person: str | None = None) -> int:
        """Publish unannounced versions (of one person, or all) and forget notices; never raises."""
        try:
            async with self._lock:
                return await self._versions(tenant, person) + await self._forgotten()
        except Exception as exc:
            log.warning("memory.announce_failed", person_id=person, error=repr(exc))
            return 0

    async def _versions(self, tenant: str | None, person: str | None) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT tenant_id, person_id, version, source_session_id, source_seq, traceparent, summary, "
                "event_id, created_at FROM memory.profile_versions WHERE announced_at IS NULL "
                "AND ($1::text IS NULL OR (tenant_id = $1 AND person_id = $2)) ORDER BY created_at, version "
                "LIMIT 500 FOR UPDATE SKIP LOCKED",
                tenant,
                person,
            )
            if not rows:
                return 0
            messages = []
            for row in rows:
                event = consolidated_event(row)
                headers = {"traceparent": row["traceparent"]} if row["traceparent"] else {}
                body = event.to_json_bytes()
                messages.append(OutMessage(key=event.session_id, value=body, headers=headers))
            await self._bus.publish(TOPIC_LIFECYCLE, messages)
            await conn.execute(
                "UPDATE memory.profile_versions SET announced_at = now() WHERE event_id = ANY($1::uuid[])",
                [r["event_id"] for r in rows],
            )
        ANNOUNCED.labels("profile.consolidated").inc(len(rows))
        return len(rows)

    async def _forgotten(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT event_id, session_id, event FROM memory.forget_outbox "
                "WHERE announced_at IS NULL ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED"
            )
            if not rows:
                return 0
            messages = []
            for r in rows:
                event = Event.from_json(r["event"])
                headers = {"traceparent": event.traceparent} if event.traceparent else {}
                messages.append(OutMessage(key=r["session_id"], value=event.to_json_bytes(), headers=headers))
            await self._bus.publish(TOPIC_LIFECYCLE, messages)
            await conn.execute(
                "UPDATE memory.forget_outbox SET announced_at = now() WHERE event_id = ANY($1::uuid[])",
                [r["event_id"] for r in rows],
            )
        ANNOUNCED.labels(FORGOTTEN_TYPE).inc(len(rows))
        return len(rows)
