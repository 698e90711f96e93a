"""`python -m lifeline_servicekit.migrate` (deploy/k8s's init container) applies once, however many run."""

from __future__ import annotations

import asyncio

from lifeline_servicekit import ServiceSettings
from lifeline_servicekit.migrate import migrate, migrations_of
from lifeline_store.migrations import discover


async def test_concurrent_init_containers_apply_each_migration_once(fresh_database: str) -> None:
    """Three pods' init containers at once: one applies everything, the others find nothing to do."""
    settings = ServiceSettings(database_url=fresh_database)
    results = await asyncio.gather(*(migrate("tracestore", settings) for _ in range(3)))
    applied = sorted(name for result in results for name in result)
    assert applied == [name for _, name, _ in discover(migrations_of("tracestore"))]
    assert await migrate("tracestore", settings) == []
