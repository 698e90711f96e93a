"""trace-store (and ingest in front of it) as real processes on real PostgreSQL and a real bus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from lifeline_servicekit import ServiceSettings
from lifeline_servicekit.migrate import migrate
from lifeline_store import create_pool
from lifeline_testing.tracestore import Services, services


@pytest.fixture
def procs(tmp_path) -> Iterator[Services]:
    """Start service processes for one test; all are killed at its end."""
    with services(tmp_path) as running:
        yield running


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """trace-store's schema, migrated: for its fold and reads driven in process."""
    await migrate("tracestore", ServiceSettings(database_url=fresh_database))
    opened = await create_pool(fresh_database)
    yield opened
    await opened.close()
