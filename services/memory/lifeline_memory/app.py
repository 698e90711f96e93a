"""memory's composition root: the only place that names concrete adapters."""

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
from lifeline_memory.announcer import Announcer
from lifeline_memory.api import router as main_router
from lifeline_memory.api_forget import forgotten_problem
from lifeline_memory.api_forget import router as forget_router
from lifeline_memory.api_provenance import router as provenance_router
from lifeline_memory.consolidator import Consolidator
from lifeline_memory.deps import BiasCache, MemoryDeps
from lifeline_memory.errors import PersonForgottenError
from lifeline_memory.forgetting import Forgetting
from lifeline_memory.handlers import AfterCommit, MemoryHandlers
from lifeline_memory.operations import Operations
from lifeline_memory.settings import MemorySettings
from lifeline_memory.sweeper import Sweeper
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

MIGRATIONS = Path(__file__).parent / "migrations"
GROUP = "memory"
log = structlog.get_logger("lifeline.memory")


async def _wire(settings: MemorySettings) -> MemoryDeps:
    """Build every adapter and register the consumer (nothing is started here)."""
    policy = settings.policy()
    pool = await open_database(settings, "memory", MIGRATIONS)
    bus = bus_from_settings(settings, "memory")
    bus.declare(TOPIC_LIFECYCLE)
    key = settings.effective_service_key
    ingest = IngestClient(settings.ingest_url, key, timeout=settings.http_timeout_s) if key else None
    consolidator = Consolidator(pool, policy, versions_keep=settings.memory_versions_keep)
    announcer = Announcer(pool, bus)
    handlers = MemoryHandlers(policy)
    projection = Projection(
        pool,
        schema="memory",
        name=GROUP,
        apply=handlers.apply_batch,
        ingest=ingest,
        after_commit=AfterCommit(handlers, consolidator.consolidate, announcer.announce),
        bus_kind=bus.kind,
    )
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, GROUP, projection, max_records=settings.memory_consumer_max_records)
    operations = Operations(
        pool, policy, consolidator, announcer, ingest, projection.apply_events, projection.checkpoint
    )
    return MemoryDeps(
        settings=settings,
        policy=policy,
        pool=pool,
        bus=bus,
        lag=lag_monitor(settings, bus),
        consolidator=consolidator,
        announcer=announcer,
        sweeper=Sweeper(pool, consolidator, announcer, interval_s=settings.memory_sweep_interval_s),
        operations=operations,
        forgetting=Forgetting(pool, consolidator, announcer),
        ingest=ingest,
        bias_cache=BiasCache(),
    )


def build_app(settings: MemorySettings | None = None) -> FastAPI:
    settings = settings or MemorySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await _wire(settings)
        provide(app, deps)
        # profiles and bias answer from the database while the bus is away; readiness says so
        bus_starter = asyncio.create_task(start_when_available(deps.bus), name="bus-starter")
        deps.lag.start()
        deps.sweeper.start()
        log.info("memory.started", settings_hash=deps.policy.settings_hash)
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await deps.bus.stop()  # stop taking records; in-flight batches finish and ack
            await deps.sweeper.stop()
            await deps.lag.stop()
            if deps.ingest is not None:
                await deps.ingest.aclose()
            await deps.pool.close()
            log.info("shutdown.done")

    app = create_app(
        service="memory",
        settings=settings,
        lifespan=lifespan,
        routers=[main_router, provenance_router, forget_router],
        readiness=_readiness,
    )
    app.add_exception_handler(PersonForgottenError, forgotten_problem)  # type: ignore[arg-type]
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> MemoryDeps:
        return deps_from(app, MemoryDeps)

    async def ingest() -> tuple[bool, str]:
        client = deps().ingest
        if client is None:
            return False, "no service key: rebuild, catch-up and gap healing cannot read ingest's log"
        return await client.check_key()

    # like snapshot: a projection is not ready without its consumer; ingest only degrades
    return [
        database_check(lambda: deps().pool),
        *bus_checks(lambda: deps().bus, critical=True),
        ReadinessCheck("ingest", ingest, critical=False),
    ]
