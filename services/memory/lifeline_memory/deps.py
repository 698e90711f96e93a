"""What memory's routes, lifespan and readiness use, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_bus.lag import LagMonitor
from lifeline_clients import IngestClient
from lifeline_memory.announcer import Announcer
from lifeline_memory.consolidator import Consolidator
from lifeline_memory.forgetting import Forgetting
from lifeline_memory.operations import Operations
from lifeline_memory.policy import Policy
from lifeline_memory.settings import MemorySettings
from lifeline_memory.sweeper import Sweeper
from lifeline_servicekit import deps_of


@dataclass
class BiasCache:
    """(tenant, person) → (expires at, version, bias): the bias endpoint's 1 s cache."""

    ttl_s: float = 1.0
    entries: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)

    def drop(self, tenant: str, person: str) -> None:
        self.entries.pop((tenant, person), None)


@dataclass
class ProfileCache:
    """(tenant, person) → (content hash, version, response bytes): a profile is served from
    here while the person's row still names that hash and version (one narrow query instead
    of reading, decoding and re-encoding ~20 KB of JSON)."""

    size: int = 2000
    entries: dict[tuple[str, str], tuple[str, int, bytes]] = field(default_factory=dict)

    def get(self, tenant: str, person: str, content_hash: str, version: int) -> bytes | None:
        hit = self.entries.get((tenant, person))
        return hit[2] if hit is not None and hit[:2] == (content_hash, version) else None

    def put(self, tenant: str, person: str, content_hash: str, version: int, body: bytes) -> None:
        if len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)))
        self.entries[(tenant, person)] = (content_hash, version, body)


@dataclass(frozen=True)
class MemoryDeps:
    """memory's adapters and workers; `ingest` is None without a service key (catch-up,
    rebuild and gap healing then answer 503 / wait)."""

    settings: MemorySettings
    policy: Policy
    pool: asyncpg.Pool
    bus: Bus
    lag: LagMonitor
    consolidator: Consolidator
    announcer: Announcer
    sweeper: Sweeper
    operations: Operations
    forgetting: Forgetting
    ingest: IngestClient | None
    bias_cache: BiasCache
    profile_cache: ProfileCache = field(default_factory=ProfileCache)


Deps = Annotated[MemoryDeps, Depends(deps_of(MemoryDeps))]
