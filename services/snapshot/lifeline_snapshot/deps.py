"""What snapshot's routes, lifespan and readiness use, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_bus.lag import LagMonitor
from lifeline_clients import IngestClient, MemoryClient, ReplayClient
from lifeline_servicekit import deps_of
from lifeline_snapshot.export.exporter import Exporter
from lifeline_snapshot.maintenance import Maintenance
from lifeline_snapshot.projector import SnapshotProjector
from lifeline_snapshot.settings import SnapshotSettings


@dataclass(frozen=True)
class SnapshotDeps:
    """snapshot's adapters and workers: the projection's front (`projector`), the peers
    (ingest's log and appends, replay's checkpoints, memory's profiles), the exporter and
    the retention job."""

    settings: SnapshotSettings
    pool: asyncpg.Pool
    bus: Bus
    projector: SnapshotProjector
    ingest: IngestClient
    replay: ReplayClient
    memory: MemoryClient
    exporter: Exporter
    maintenance: Maintenance
    lag: LagMonitor


Deps = Annotated[SnapshotDeps, Depends(deps_of(SnapshotDeps))]
