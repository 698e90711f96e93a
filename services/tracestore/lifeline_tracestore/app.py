"""trace-store's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient
from lifeline_events import TOPIC_EVENTS, TOPIC_LIFECYCLE
from lifeline_projection import Projection
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
from lifeline_store.compression import CompressionPolicy
from lifeline_tracestore.api import router, session_person
from lifeline_tracestore.deps import TraceStoreDeps
from lifeline_tracestore.explorer import mount_explorer
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.handlers import GROUP, LIFECYCLE_GROUP, LifecycleHandler, PartitionedHandler
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import TraceFold
from lifeline_tracestore.redacting import Redactor
from lifeline_tracestore.retention import RetentionJob
from lifeline_tracestore.settings import TraceStoreSettings
from lifeline_tracestore.trace_replay import Replayer

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("lifeline.tracestore")


async def _wire(settings: TraceStoreSettings) -> TraceStoreDeps:
    """Build every adapter and register the consumers (nothing is started here)."""
    pool = await open_database(settings, "traces", MIGRATIONS)
    partitions = Partitions(pool)
    retention = RetentionJob(partitions, retention_days=settings.trace_retention_days,
                             interval_s=settings.trace_cleanup_interval_s,
                             gauges_interval_s=settings.trace_metrics_interval_s)
    key = settings.effective_service_key
    ingest = IngestClient(settings.ingest_url, key) if key else None
    freshness = Freshness(pool, max_wait_ms=settings.trace_read_wait_ms)
    redactor = Redactor(settings.trace_redaction)
    fold = TraceFold(partitions, freshness, redactor, context_every=settings.trace_context_every,
                     compression=CompressionPolicy(settings.compression, settings.compress_min_bytes))
    bus = bus_from_settings(settings, "tracestore")
    projection = Projection(pool, schema="traces", name=GROUP, apply=fold.apply, ingest=ingest,
                            after_commit=fold.after_commit, bus_kind=bus.kind)
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, GROUP, PartitionedHandler(projection, partitions),
                max_records=settings.trace_consumer_max_records)
    bus.consume(TOPIC_LIFECYCLE, LIFECYCLE_GROUP, LifecycleHandler(pool, partitions, bus_kind=bus.kind,
                                                                   redactor=redactor),
                max_records=settings.trace_consumer_max_records)
    return TraceStoreDeps(settings=settings, pool=pool, bus=bus, retention=retention,
                          lag=lag_monitor(settings, bus), freshness=freshness,
                          replayer=Replayer(pool, ingest, redactor), ingest=ingest)


def build_app(settings: TraceStoreSettings | None = None) -> FastAPI:
    settings = settings or TraceStoreSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await _wire(settings)
        provide(app, deps)
        await deps.retention.refresh_gauges()
        bus_starter = asyncio.create_task(start_when_available(deps.bus), name="bus-starter")
        deps.retention.start()
        deps.lag.start()
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await deps.bus.stop()  # stop taking records; in-flight batches finish and ack
            await deps.lag.stop()
            await deps.retention.stop()
            if deps.ingest is not None:
                await deps.ingest.aclose()
            await deps.pool.close()
            log.info("shutdown.done")

    app = create_app(service="tracestore", settings=settings, lifespan=lifespan,
                     routers=[router], readiness=_readiness, session_person=session_person)
    mount_explorer(app)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per ingest call is noise
    return app


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> TraceStoreDeps:
        return deps_from(app, TraceStoreDeps)

    async def ingest() -> tuple[bool, str]:
        client = deps().ingest
        if client is None:
            return False, "no ingest key: gaps in the bus cannot be healed from the log"
        return (await client.ping()), "ingest's log is reachable for healing gaps"

    return [database_check(lambda: deps().pool), *bus_checks(lambda: deps().bus, critical=True),
            ReadinessCheck("ingest", ingest, critical=False)]
