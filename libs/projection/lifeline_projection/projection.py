"""A projection applies events to its own tables exactly once, in seq order per session.

The bus delivers at least once and may reorder across batches; the projection keeps
a checkpoint per session (`<schema>.checkpoints`) and advances it in the same
transaction as its effects, so a redelivered event is skipped by comparison with the
checkpoint, never by hope. An event that arrives ahead of a gap (seq > last + 1)
makes the projection read the missing range from ingest's log first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from prometheus_client import Counter

from lifeline_bus import Delivery
from lifeline_events import Event, EventValidationError
from lifeline_projection.ingest_client import IngestClient
from lifeline_projection.spans import consumer_spans
from lifeline_store import wrap_errors

log = structlog.get_logger("lifeline.projection")

APPLIED = Counter("lifeline_projection_applied_total", "Events applied by a projection.", ["projection"])
SKIPPED = Counter("lifeline_projection_duplicates_total", "Redelivered events skipped.", ["projection"])
HEALED = Counter("lifeline_projection_healed_total", "Events fetched from ingest to fill gaps.",
                 ["projection"])


@dataclass(frozen=True, order=True)
class SessionKey:
    tenant_id: str
    session_id: str


# Apply a session's new events (contiguous, in seq order) inside the open transaction.
ApplyFn = Callable[[asyncpg.Connection, SessionKey, Sequence[Event]], Awaitable[None]]
AfterCommit = Callable[[SessionKey, Sequence[Event]], Awaitable[None]]

_DDL = """
CREATE TABLE IF NOT EXISTS "{schema}".checkpoints (
    tenant_id  text NOT NULL,
    session_id text NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
)"""


class Projection:
    """Bus handler for one projection; pass it to `bus.consume(TOPIC_EVENTS, name, projection)`."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str, name: str, apply: ApplyFn,
                 ingest: IngestClient | None = None, after_commit: AfterCommit | None = None,
                 bus_kind: str = "") -> None:
        self._pool = pool
        self._schema = schema
        self.name = name
        self._apply = apply
        self._ingest = ingest
        self._after_commit = after_commit
        self._bus_kind = bus_kind

    async def ensure_schema(self) -> None:
        with wrap_errors(f"create {self._schema}.checkpoints"):
            await self._pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            await self._pool.execute(_DDL.format(schema=self._schema))

    async def checkpoint(self, key: SessionKey) -> int:
        with wrap_errors("read checkpoint"):
            value = await self._pool.fetchval(
                f'SELECT last_seq FROM "{self._schema}".checkpoints WHERE tenant_id = $1 AND session_id = $2',
                key.tenant_id, key.session_id)
        return int(value or 0)

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        started = time.time_ns()
        rejected: dict[str, str] = {}
        by_session: dict[SessionKey, dict[int, Event]] = {}
        for delivery in batch:
            try:
                event = Event.from_json(delivery.value)
            except EventValidationError as exc:
                rejected[delivery.id] = f"not a valid event: {exc}"
                continue
            by_session.setdefault(SessionKey(event.tenant_id, event.session_id), {})[event.seq] = event
        if by_session:
            await self.apply_events(
                {k: sorted(v.values(), key=lambda e: e.seq) for k, v in by_session.items()})
            consumer_spans(batch[0].topic, self.name, self._bus_kind,
                           [e for events in by_session.values() for e in events.values()],
                           started, time.time_ns())
        return rejected

    async def apply_events(self, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        """Apply events per session exactly once, healing gaps from ingest's log."""
        committed: list[tuple[SessionKey, list[Event]]] = []
        with wrap_errors(f"apply {self.name}"):
            async with self._pool.acquire() as conn, conn.transaction():
                checkpoints = await self._lock(conn, sorted(by_session))
                for key in sorted(by_session):
                    last = checkpoints[key]
                    fresh = [e for e in by_session[key] if e.seq > last]
                    SKIPPED.labels(self.name).inc(len(by_session[key]) - len(fresh))
                    if not fresh:
                        continue
                    fresh = await self._heal(key, last, fresh)
                    if not fresh:
                        continue
                    await self._apply(conn, key, fresh)
                    await conn.execute(
                        f'UPDATE "{self._schema}".checkpoints SET last_seq = $3, updated_at = now() '
                        "WHERE tenant_id = $1 AND session_id = $2",
                        key.tenant_id, key.session_id, fresh[-1].seq)
                    APPLIED.labels(self.name).inc(len(fresh))
                    committed.append((key, fresh))
        if self._after_commit:
            for key, events in committed:
                await self._after_commit(key, events)

    async def _lock(self, conn: asyncpg.Connection, keys: list[SessionKey]) -> dict[SessionKey, int]:
        tenants, sessions = [k.tenant_id for k in keys], [k.session_id for k in keys]
        await conn.execute(
            f'INSERT INTO "{self._schema}".checkpoints (tenant_id, session_id) '
            "SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2 ON CONFLICT DO NOTHING",
            tenants, sessions)
        rows = await conn.fetch(
            f'SELECT tenant_id, session_id, last_seq FROM "{self._schema}".checkpoints '
            "WHERE (tenant_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
            "ORDER BY tenant_id, session_id FOR UPDATE", tenants, sessions)
        return {SessionKey(r["tenant_id"], r["session_id"]): r["last_seq"] for r in rows}

    async def _heal(self, key: SessionKey, last: int, fresh: list[Event]) -> list[Event]:
        """Return a contiguous run starting at last + 1, reading holes from ingest."""
        expected = [*range(last + 1, fresh[-1].seq + 1)]
        have = {e.seq: e for e in fresh}
        missing = [s for s in expected if s not in have]
        if not missing:
            return fresh
        if self._ingest is None:
            log.warning("projection.gap_unhealed", projection=self.name, session=key.session_id,
                        missing_from=missing[0])
            return [have[s] for s in expected[: expected.index(missing[0])]]
        fetched = await self._ingest.events(key.tenant_id, key.session_id, after_seq=missing[0] - 1,
                                            until_seq=missing[-1])
        HEALED.labels(self.name).inc(len(fetched))
        for e in fetched:
            have.setdefault(e.seq, e)
        run = []
        for s in expected:
            if s not in have:
                break
            run.append(have[s])
        return run
