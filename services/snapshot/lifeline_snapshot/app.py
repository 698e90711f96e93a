"""snapshot's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient, MemoryClient, PeerRefusedError, ReplayClient
from lifeline_events import TOPIC_EVENTS, TOPIC_LIFECYCLE
from lifeline_projection import Projection
from lifeline_servicekit import (
    ReadinessCheck,
    bus_check,
    bus_from_settings,
    create_app,
    database_check,
    lag_monitor,
    open_database,
)
from lifeline_servicekit.problems import problem
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.api import router as snapshot_router
from lifeline_snapshot.api_export import router as export_router
from lifeline_snapshot.api_wal import router as wal_router
from lifeline_snapshot.exporter import Exporter
from lifeline_snapshot.maintenance import Maintenance
from lifeline_snapshot.projector import SnapshotFold, SnapshotProjector
from lifeline_snapshot.settings import SnapshotSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("lifeline.snapshot")


async def _wire(app: FastAPI, settings: SnapshotSettings) -> None:
    """Open the adapters and put everything the routes and the shutdown need on `app.state`."""
    pool = await open_database(settings, "snapshot", MIGRATIONS)
    bus = bus_from_settings(settings, "snapshot")
    bus.declare(TOPIC_LIFECYCLE)
    key, timeout = settings.effective_service_key, settings.http_timeout_s
    ingest = IngestClient(settings.ingest_url, key, timeout=timeout)
    replay, memory = ReplayClient(settings.replay_url), MemoryClient(settings.memory_url)
    announcer = Announcer(pool, bus)
    fold = SnapshotFold(announcer, every=settings.snapshot_every, keep=settings.snapshot_keep)
    projection = Projection(pool, schema="snapshot", name="snapshot", apply=fold.apply, ingest=ingest,
                            after_commit=fold.after_commit, bus_kind=bus.kind)
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, "snapshot", projection, max_records=settings.consumer_max_records)
    projector = SnapshotProjector(pool, announcer, projection, ingest, keep=settings.snapshot_keep)
    app.state.lag = lag_monitor(settings, bus)
    app.state.pool, app.state.bus, app.state.projector = pool, bus, projector
    app.state.ingest, app.state.peers, app.state.clients = ingest, replay, (ingest, replay, memory)
    app.state.exporter = Exporter(pool, ingest, memory, page=settings.export_page_events)
    app.state.maintenance = Maintenance(pool, announcer, interval_s=settings.maintenance_interval_s,
                                        max_age_days=settings.snapshot_max_age_days,
                                        keep=settings.snapshot_keep)


def build_app(settings: SnapshotSettings | None = None) -> FastAPI:
    settings = settings or SnapshotSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _wire(app, settings)
        state = app.state
        # the API answers while the bus is away; readiness says so until the consumer runs
        bus_starter = asyncio.create_task(start_when_available(state.bus), name="bus-starter")
        state.maintenance.start()
        state.lag.start()
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await state.maintenance.stop()
            await state.lag.stop()
            await state.bus.stop()  # stop taking records; in-flight batches finish and ack
            for client in state.clients:
                await client.aclose()
            await state.pool.close()
            log.info("shutdown.done")

    def readiness(app: FastAPI) -> list[ReadinessCheck]:
        async def ingest() -> tuple[bool, str]:
            return await app.state.ingest.check_key()

        # Without ingest, snapshots still fold from the bus; restore/export/WAL answer 503.
        return [database_check(lambda: app.state.pool), bus_check(lambda: app.state.bus, critical=True),
                ReadinessCheck("ingest", ingest, critical=False)]

    app = create_app(service="snapshot", settings=settings, lifespan=lifespan,
                     routers=[snapshot_router, export_router, wal_router], readiness=readiness)
    app.add_exception_handler(PeerRefusedError, _peer_refused)  # type: ignore[arg-type]
    return app


async def _peer_refused(_: Request, exc: PeerRefusedError) -> JSONResponse:
    """ingest refused a restore/import/repair: answer with its status, title and detail."""
    return problem(exc.status, exc.title, exc.detail, **exc.extra)
