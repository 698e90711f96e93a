"""What trace-store's routes, lifespan and readiness use, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_bus.lag import LagMonitor
from lifeline_clients import IngestClient
from lifeline_servicekit import deps_of
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.retention import RetentionJob
from lifeline_tracestore.settings import TraceStoreSettings
from lifeline_tracestore.trace_replay import Replayer


@dataclass(frozen=True)
class TraceStoreDeps:
    """trace-store's adapters and workers; `ingest` is None without a service key
    (gaps in the bus are then not healed from ingest's log)."""

    settings: TraceStoreSettings
    pool: asyncpg.Pool
    bus: Bus
    retention: RetentionJob
    lag: LagMonitor
    freshness: Freshness
    replayer: Replayer
    ingest: IngestClient | None


Deps = Annotated[TraceStoreDeps, Depends(deps_of(TraceStoreDeps))]
