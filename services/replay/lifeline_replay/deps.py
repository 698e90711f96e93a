"""What replay's routes, WebSocket and readiness use, built by the composition root (`app.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_clients import IngestClient
from lifeline_projection import Projection
from lifeline_replay.hot import HotStore
from lifeline_replay.memory import MemoryClient
from lifeline_replay.recovery import Recovery
from lifeline_replay.settings import ReplaySettings
from lifeline_servicekit import deps_of


@dataclass
class ReplayDeps:
    """replay's adapters; `ws_open` counts open WebSockets against `ws_max_connections`
    (the one mutable field: this process's connection count)."""

    settings: ReplaySettings
    pool: asyncpg.Pool
    hot: HotStore
    ingest: IngestClient
    memory: MemoryClient | None
    bus: Bus
    projection: Projection
    recovery: Recovery
    ws_open: int = 0


Deps = Annotated[ReplayDeps, Depends(deps_of(ReplayDeps))]
