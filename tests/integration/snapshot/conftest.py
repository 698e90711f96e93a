"""ingest + snapshot as real processes on real PostgreSQL and a real bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from lifeline_projection import Projection
from lifeline_servicekit import ServiceSettings
from lifeline_servicekit.migrate import migrate
from lifeline_store import create_pool
from lifeline_testing.snapshot_stack import SnapshotStack, start_stack_async

MODULE_SETTINGS = {"snapshot_keep": "4", "export_max_mb": "1", "export_stream_after_events": "40",
                   "export_page_events": "25"}


@pytest.fixture(scope="module")
async def stack(module_database: str, module_bus: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SnapshotStack]:
    """One ingest + snapshot pair for the API tests of a module (keep 4, export limit 1 MB,
    exports of more than 40 events streamed in pages of 25)."""
    running = await start_stack_async(module_database, module_bus, tmp_path_factory.mktemp("snapshot"),
                                      **MODULE_SETTINGS)
    yield running
    await asyncio.to_thread(running.kill)


@pytest.fixture
def start_stacks(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start stacks owned by one test (killed afterwards)."""
    started: list[SnapshotStack] = []

    async def start(database_url: str, bus_url: str, **env: str) -> SnapshotStack:
        running = await start_stack_async(database_url, bus_url, tmp_path, **env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()


async def _nothing(conn: asyncpg.Connection, by_session: dict) -> None:
    """The checkpoints table is the projection's: a projection that applies nothing creates it."""


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """snapshot's schema, migrated, with its projection's checkpoints: for the engine in process."""
    await migrate("snapshot", ServiceSettings(database_url=fresh_database))
    opened = await create_pool(fresh_database)
    await Projection(opened, schema="snapshot", name="snapshot", apply=_nothing).ensure_schema()
    yield opened
    await opened.close()
