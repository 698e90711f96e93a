"""ingest's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from lifeline_bus.supervise import start_when_available
from lifeline_events import TOPIC_EVENTS, TOPIC_TURNS
from lifeline_ingest import store
from lifeline_ingest.api import router
from lifeline_ingest.api_conflicts import router as conflicts_router
from lifeline_ingest.api_retention import router as retention_router
from lifeline_ingest.api_room import router as room_router
from lifeline_ingest.api_transcripts import router as transcripts_router
from lifeline_ingest.committer import GroupCommitter
from lifeline_ingest.conflict_commit import ConflictRules
from lifeline_ingest.deps import IngestDeps
from lifeline_ingest.handlers import TurnsHandler
from lifeline_ingest.persons import session_person
from lifeline_ingest.relay import OutboxRelay
from lifeline_ingest.settings import IngestSettings
from lifeline_servicekit import (
    ReadinessCheck,
    bus_checks,
    bus_from_settings,
    create_app,
    database_check,
    deps_from,
    lag_monitor,
    open_database,
    provide,
)

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("lifeline.ingest")


async def _wire(settings: IngestSettings) -> IngestDeps:
    """Build every adapter and register the consumer (nothing is started here)."""
    pool = await open_database(settings, "ingest", MIGRATIONS)
    bus = bus_from_settings(settings, "ingest")
    bus.declare(TOPIC_EVENTS)
    relay = OutboxRelay(pool, bus, batch=settings.relay_batch, poll_s=settings.relay_poll_s)
    committer = GroupCommitter(pool, workers=settings.committers,
                               max_events=settings.commit_max_events, on_commit=relay.wake,
                               conflicts=ConflictRules(
                                   settings.conflict_strategy, settings.conflict_window_events,
                                   tuple(settings.conflict_provider_priority)))
    if settings.turns_consumer_enabled:
        bus.consume(TOPIC_TURNS, "ingest", TurnsHandler(
            committer, default_tenant=settings.default_tenant,
            max_event_bytes=settings.max_event_bytes), max_records=settings.turns_max_records)
    return IngestDeps(settings, pool, bus, committer, relay)


def build_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await _wire(settings)
        provide(app, deps)
        pool, bus, committer, relay = deps.pool, deps.bus, deps.committer, deps.relay
        committer.start()
        lag = lag_monitor(settings, bus)
        lag.start()
        log.info("wal.repair.startup", **await store.outbox_report(pool))
        # ingest keeps accepting while the bus is away; it connects when the bus appears
        bus_starter = asyncio.create_task(start_when_available(bus), name="bus-starter")
        if settings.relay_enabled:
            relay.start()
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await bus.stop()          # stop taking records; in-flight batches finish and ack
            await committer.stop()    # every accepted request is committed and answered
            await relay.stop()
            await lag.stop()
            await pool.close()
            log.info("shutdown.done")

    return create_app(service="ingest", settings=settings, lifespan=lifespan,
                      routers=[router, retention_router, transcripts_router, room_router,
                               conflicts_router],
                      readiness=_readiness,
                      session_person=session_person)


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> IngestDeps:
        return deps_from(app, IngestDeps)

    async def relay() -> tuple[bool, str]:
        r = deps().relay
        return r.bus_ok, f"leader={r.is_leader} published={r.published_total}"

    return [database_check(lambda: deps().pool), *bus_checks(lambda: deps().bus),
            ReadinessCheck("relay", relay, critical=False)]
