"""What ingest's routes and readiness use, built by the composition root (`app.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_ingest.committer import GroupCommitter
from lifeline_ingest.relay import OutboxRelay
from lifeline_ingest.settings import IngestSettings
from lifeline_servicekit import deps_of


@dataclass(frozen=True)
class IngestDeps:
    """ingest's adapters: the log's pool, the bus, the group committer and the outbox relay."""

    settings: IngestSettings
    pool: asyncpg.Pool
    bus: Bus
    committer: GroupCommitter
    relay: OutboxRelay


Deps = Annotated[IngestDeps, Depends(deps_of(IngestDeps))]
