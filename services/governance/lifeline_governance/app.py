"""governance's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from lifeline_bus.lag import LagMonitor
from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient
from lifeline_events import TOPIC_EVENTS, TOPIC_LIFECYCLE
from lifeline_governance import api_errors
from lifeline_governance.announcer import Announcer
from lifeline_governance.api_admin import router as admin_router
from lifeline_governance.api_models import router as models_router
from lifeline_governance.api_routing import router as routing_router
from lifeline_governance.deps import GovernanceDeps
from lifeline_governance.handlers import GROUP, apply_batch
from lifeline_governance.job import LagProbe, LifecycleJob
from lifeline_governance.routing import RoutingTable
from lifeline_governance.settings import GovernanceSettings
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
log = structlog.get_logger("lifeline.governance")


def _lag_probe(lag: LagMonitor, settings: GovernanceSettings) -> LagProbe:
    """A tick runs only on fresh evidence: the projection within MAX_LAG_EVENTS and SETTLE_S."""

    async def probe() -> str | None:
        readings = [r for r in await lag.refresh() if r.topic == TOPIC_EVENTS and r.group == GROUP]
        if not readings:
            return "projection_lag_unknown: the bus does not report the consumer's lag"
        behind = sum((r.lag or 0) + (r.pending or 0) for r in readings)
        oldest = max(r.oldest_unacked_s for r in readings)
        if behind > settings.governance_max_lag_events:
            return f"projection_lagging: {behind} events behind (> {settings.governance_max_lag_events})"
        if oldest > max(settings.governance_settle_s, 1):
            return f"projection_lagging: oldest unacknowledged event {oldest:.0f}s old"
        return None

    return probe


async def _wire(settings: GovernanceSettings) -> tuple[GovernanceDeps, LagMonitor, IngestClient | None]:
    """Build every adapter and register the consumer (nothing is started here)."""
    rules = settings.rules()
    pool = await open_database(settings, "governance", MIGRATIONS)
    bus = bus_from_settings(settings, "governance")
    bus.declare(TOPIC_LIFECYCLE)
    key = settings.effective_service_key
    ingest = IngestClient(settings.ingest_url, key) if key else None
    projection = Projection(
        pool, schema="governance", name=GROUP, apply=apply_batch, ingest=ingest, bus_kind=bus.kind
    )
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, GROUP, projection, max_records=settings.governance_consumer_max_records)
    lag = lag_monitor(settings, bus)
    announcer = Announcer(pool, bus, interval_s=settings.governance_announce_interval_s)
    routing = RoutingTable(
        pool,
        candidate_traffic=settings.governance_candidate_traffic,
        anomaly_block_s=rules.anomaly_block_s,
        refresh_s=settings.governance_routing_refresh_s,
    )
    job = LifecycleJob(
        pool,
        rules,
        default_weights=dict(settings.governance_intent_weights),
        lag_probe=_lag_probe(lag, settings),
        after_commit=announcer.announce,
        enabled=settings.governance_job_enabled,
        retention_days=(
            settings.governance_bucket_retention_days,
            settings.governance_evaluation_retention_days,
        ),
    )
    return GovernanceDeps(settings, rules, pool, bus, routing, job, announcer), lag, ingest


def build_app(settings: GovernanceSettings | None = None) -> FastAPI:
    settings = settings or GovernanceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps, lag, ingest = await _wire(settings)
        provide(app, deps)
        await deps.routing.start()
        bus_starter = asyncio.create_task(start_when_available(deps.bus), name="bus-starter")
        lag.start()
        deps.announcer.start()
        deps.job.start()
        log.info("governance.started", settings_hash=deps.rules.settings_hash)
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            await deps.job.stop()
            await deps.bus.stop()  # stop taking records; in-flight batches finish and ack
            await deps.announcer.stop()
            await deps.routing.stop()
            await lag.stop()
            if ingest is not None:
                await ingest.aclose()
            await deps.pool.close()
            log.info("shutdown.done")

    app = create_app(
        service="governance",
        settings=settings,
        lifespan=lifespan,
        routers=[models_router, routing_router, admin_router],
        readiness=_readiness,
    )
    api_errors.install(app)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> GovernanceDeps:
        return deps_from(app, GovernanceDeps)

    # the bus is degraded, not critical: routing keeps answering from the table
    return [database_check(lambda: deps().pool), *bus_checks(lambda: deps().bus, critical=False)]
