"""snapshot's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient, MemoryClient, ReplayClient
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
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.api import router as snapshot_router
from lifeline_snapshot.api import session_person
from lifeline_snapshot.deps import SnapshotDeps
from lifeline_snapshot.export.api import router as export_router
from lifeline_snapshot.export.exporter import Exporter
from lifeline_snapshot.maintenance import Maintenance
from lifeline_snapshot.projector import SnapshotFold, SnapshotProjector
from lifeline_snapshot.settings import SnapshotSettings
from lifeline_snapshot.wal.api import router as wal_router
from lifeline_store.compression import CompressionPolicy

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("lifeline.snapshot")


async def _wire(settings: SnapshotSettings) -> SnapshotDeps:
    """Build every adapter and register the consumer (nothing is started here)."""
    pool = await open_database(settings, "snapshot", MIGRATIONS)
    bus = bus_from_settings(settings, "snapshot")
    bus.declare(TOPIC_LIFECYCLE)
    key, timeout = settings.effective_service_key, settings.http_timeout_s
    ingest = IngestClient(settings.ingest_url, key, timeout=timeout)
    replay = ReplayClient(settings.replay_url, timeout=timeout)
    memory = MemoryClient(settings.memory_url, timeout=timeout)
    announcer = Announcer(pool, bus)
    compression = CompressionPolicy(settings.compression, settings.compress_min_bytes)
    fold = SnapshotFold(announcer, every=settings.snapshot_every, keep=settings.snapshot_keep,
                        compression=compression)
    projection = Projection(pool, schema="snapshot", name="snapshot", apply=fold.apply, ingest=ingest,
                            after_commit=fold.after_commit, bus_kind=bus.kind)
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, "snapshot", projection, max_records=settings.consumer_max_records)
    projector = SnapshotProjector(pool, announcer, projection, ingest, keep=settings.snapshot_keep,
                                  compression=compression)
    maintenance = Maintenance(pool, announcer, interval_s=settings.maintenance_interval_s,
                              max_age_days=settings.snapshot_max_age_days, keep=settings.snapshot_keep)
    return SnapshotDeps(settings=settings, pool=pool, bus=bus, projector=projector, ingest=ingest,
                        replay=replay, memory=memory,
                        exporter=Exporter(pool, ingest, memory, page=settings.export_page_events,
                                          announcer=announcer, compression=compression),
                        maintenance=maintenance, lag=lag_monitor(settings, bus))


def build_app(settings: SnapshotSettings | None = None) -> FastAPI:
    settings = settings or SnapshotSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await _wire(settings)
        provide(app, deps)
        # the API answers while the bus is away; readiness says so until the consumer runs
        bus_starter = asyncio.create_task(start_when_available(deps.bus), name="bus-starter")
        deps.maintenance.start()
        deps.lag.start()
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await deps.maintenance.stop()
            await deps.lag.stop()
            await deps.bus.stop()  # stop taking records; in-flight batches finish and ack
            for client in (deps.ingest, deps.replay, deps.memory):
                await client.aclose()
            await deps.pool.close()
            log.info("shutdown.done")

    # ingest's refusals (PeerRefusedError) keep ingest's status: servicekit's problem handler
    return create_app(service="snapshot", settings=settings, lifespan=lifespan,
                      routers=[snapshot_router, export_router, wal_router], readiness=_readiness,
                      session_person=session_person)


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> SnapshotDeps:
        return deps_from(app, SnapshotDeps)

    async def ingest() -> tuple[bool, str]:
        return await deps().ingest.check_key()

    # Without ingest, snapshots still fold from the bus; restore/export/WAL answer 503.
    return [database_check(lambda: deps().pool), *bus_checks(lambda: deps().bus, critical=True),
            ReadinessCheck("ingest", ingest, critical=False)]
