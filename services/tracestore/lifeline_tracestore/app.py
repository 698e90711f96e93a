"""trace-store's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from fastapi import FastAPI

from lifeline_bus import Bus
from lifeline_bus.lag import LagMonitor
from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient
from lifeline_events import TOPIC_EVENTS, TOPIC_LIFECYCLE
from lifeline_servicekit import ReadinessCheck, bus_from_settings, create_app, lag_monitor
from lifeline_store import apply_migrations, create_pool
from lifeline_tracestore.api import router
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.handlers import GROUP, LIFECYCLE_GROUP, EventsHandler, LifecycleHandler
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import TraceProjector
from lifeline_tracestore.replay import Replayer
from lifeline_tracestore.retention import RetentionJob
from lifeline_tracestore.settings import TraceStoreSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("lifeline.tracestore")


@dataclass
class Workers:
    """What the lifespan starts and stops, in that order."""

    bus: Bus
    retention: RetentionJob
    lag: LagMonitor
    ingest: IngestClient | None


def _wire(app: FastAPI, settings: TraceStoreSettings, pool: asyncpg.Pool) -> Workers:
    """Build the adapters and handlers, and put what the routes need on `app.state`."""
    partitions = Partitions(pool)
    retention = RetentionJob(partitions, retention_days=settings.trace_retention_days,
                             interval_s=settings.trace_cleanup_interval_s,
                             gauges_interval_s=settings.trace_metrics_interval_s)
    key = settings.effective_service_key
    ingest = IngestClient(settings.ingest_url, key) if key else None
    freshness = Freshness(pool, max_wait_ms=settings.trace_read_wait_ms)
    projector = TraceProjector(pool, partitions, freshness, ingest)
    bus = bus_from_settings(settings, "tracestore")
    bus.consume(TOPIC_EVENTS, GROUP, EventsHandler(projector, partitions, bus_kind=bus.kind),
                max_records=settings.trace_consumer_max_records)
    bus.consume(TOPIC_LIFECYCLE, LIFECYCLE_GROUP, LifecycleHandler(pool, partitions, bus_kind=bus.kind),
                max_records=settings.trace_consumer_max_records)
    app.state.pool, app.state.bus, app.state.ingest = pool, bus, ingest
    app.state.freshness, app.state.retention = freshness, retention
    app.state.replayer = Replayer(pool, ingest)
    return Workers(bus, retention, lag_monitor(settings, bus), ingest)


def build_app(settings: TraceStoreSettings | None = None) -> FastAPI:
    settings = settings or TraceStoreSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_size,
                                 application_name="lifeline-tracestore")
        await apply_migrations(pool, "traces", MIGRATIONS)
        workers = _wire(app, settings, pool)
        await workers.retention.refresh_gauges()
        bus_starter = asyncio.create_task(start_when_available(workers.bus), name="bus-starter")
        workers.retention.start()
        workers.lag.start()
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await workers.bus.stop()  # stop taking records; in-flight batches finish and ack
            await workers.lag.stop()
            await workers.retention.stop()
            if workers.ingest is not None:
                await workers.ingest.aclose()
            await pool.close()
            log.info("shutdown.done")

    app = create_app(service="tracestore", settings=settings, lifespan=lifespan,
                     routers=[router], readiness=_readiness)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per ingest call is noise
    return app


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    async def database() -> tuple[bool, str]:
        await app.state.pool.fetchval("SELECT 1")
        return True, "ok"

    async def bus() -> tuple[bool, str]:
        if not await app.state.bus.ping():
            return False, "bus does not answer ping"
        if not app.state.bus.consumers_running():
            return False, "bus answers but a consumer is not running"
        return True, "ok"

    async def ingest() -> tuple[bool, str]:
        client = app.state.ingest
        if client is None:
            return False, "no ingest key: gaps in the bus cannot be healed from the log"
        return (await client.ping()), "ingest's log is reachable for healing gaps"

    return [ReadinessCheck("database", database), ReadinessCheck("bus", bus),
            ReadinessCheck("ingest", ingest, critical=False)]
