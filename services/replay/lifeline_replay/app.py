"""replay's composition root: the only place that names concrete adapters."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from lifeline_bus.supervise import start_when_available
from lifeline_clients import IngestClient
from lifeline_events import TOPIC_EVENTS
from lifeline_projection import Projection
from lifeline_replay.api import router, session_person
from lifeline_replay.deps import ReplayDeps
from lifeline_replay.hot import HotStore
from lifeline_replay.memory import MemoryClient
from lifeline_replay.projector import ReplayProjector
from lifeline_replay.recovery import Recovery
from lifeline_replay.settings import ReplaySettings
from lifeline_replay.ws import router as ws_router
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

MIGRATIONS = Path(__file__).parent / "migrations"
_API_KEY_IN_QUERY = re.compile(r"(api_key=)[^&\s\"]+")


class _RedactApiKeys(logging.Filter):
    """uvicorn logs every WebSocket's path with its query: never with an ?api_key= value."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_API_KEY_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


logging.getLogger("uvicorn.error").addFilter(_RedactApiKeys())
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per ingest read is noise
log = structlog.get_logger("lifeline.replay")


async def _wire(settings: ReplaySettings) -> ReplayDeps:
    """Build every adapter and register the consumer (nothing is started here)."""
    pool = await open_database(settings, "replay", MIGRATIONS)
    hot = HotStore(settings.redis_url, timeout_s=settings.redis_timeout_s, retry_s=settings.redis_retry_s,
                   ttl_s=settings.hot_ttl_s, max_blocking=settings.ws_max_connections + 50)
    key = settings.effective_service_key
    ingest = IngestClient(settings.ingest_url, key, timeout=settings.ingest_timeout_s)
    memory = (MemoryClient(settings.memory_url, key, timeout=settings.memory_timeout_s)
              if settings.memory_url else None)
    compression = CompressionPolicy(settings.compression, settings.compress_min_bytes)
    projector = ReplayProjector(hot, snapshot_every=settings.snapshot_every,
                                snapshot_keep=settings.snapshot_keep,
                                cache_sessions=settings.projection_cache_sessions,
                                sync_commit=settings.projection_sync_commit,
                                compression=compression)
    bus = bus_from_settings(settings, "replay")
    projection = Projection(pool, schema="replay", name="replay", apply=projector.apply, ingest=ingest,
                            after_commit=projector.after_commit, bus_kind=bus.kind)
    await projection.ensure_schema()
    bus.consume(TOPIC_EVENTS, "replay", projection, max_records=settings.projection_max_records)
    return ReplayDeps(settings=settings, pool=pool, hot=hot, ingest=ingest, memory=memory, bus=bus,
                      projection=projection, recovery=Recovery(
                          hot, pool, ingest, memory,
                          max_lag=None if settings.stale_after_events < 0 else settings.stale_after_events))


def build_app(settings: ReplaySettings | None = None) -> FastAPI:
    settings = settings or ReplaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = await _wire(settings)
        provide(app, deps)
        lag = lag_monitor(settings, deps.bus)
        lag.start()
        # replay serves (from the log) while the bus or Redis is away; it consumes once they are back
        bus_starter = asyncio.create_task(start_when_available(deps.bus), name="bus-starter")
        redis_monitor = asyncio.create_task(deps.hot.monitor(settings.redis_retry_s), name="redis-monitor")
        try:
            yield
        finally:
            log.info("shutdown.draining")
            bus_starter.cancel()
            redis_monitor.cancel()
            await deps.bus.stop()
            await lag.stop()
            await deps.hot.aclose()
            await deps.ingest.aclose()
            if deps.memory is not None:
                await deps.memory.aclose()
            await deps.pool.close()
            log.info("shutdown.done")

    return create_app(service="replay", settings=settings, lifespan=lifespan,
                      routers=[router, ws_router], readiness=_readiness, session_person=session_person)


_BEHIND_DEGRADES_S = 30.0
"""After a read found the projection behind the log, /ready says degraded this long."""


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    def deps() -> ReplayDeps:
        return deps_from(app, ReplayDeps)

    async def redis() -> tuple[bool, str]:
        if await deps().hot.ping():
            return True, "ok"
        return False, "Redis down: recovery serves from ingest's log (mode log) or cold"

    async def ingest() -> tuple[bool, str]:
        return (True, "ok") if await deps().ingest.ping() else (False, "ingest unreachable")

    async def projection() -> tuple[bool, str]:
        seen = deps().recovery.behind_seen
        if seen is not None and time.monotonic() - seen[0] < _BEHIND_DEGRADES_S:
            ago = time.monotonic() - seen[0]
            return False, f"a read {ago:.0f}s ago found the projection {seen[1]} events behind the log"
        return True, "ok"

    return [database_check(lambda: deps().pool), ReadinessCheck("redis", redis, critical=False),
            *bus_checks(lambda: deps().bus), ReadinessCheck("ingest", ingest, critical=False),
            ReadinessCheck("projection", projection, critical=False)]
