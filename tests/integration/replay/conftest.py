"""ingest + replay as real processes on real PostgreSQL and Redis (and Kafka where the bus matters)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from lifeline_servers import RunningServer
from lifeline_testing.processes import ServiceProcess
from lifeline_testing.redis_dbs import flushed_db
from lifeline_testing.replay_stack import ReplayStack, ingest_process, replay_process, start_stack

SNAPSHOT_EVERY = 10
"""Small, so that short test sessions cross several snapshots and trims."""
UNREACHABLE_MEMORY = "http://127.0.0.1:9"
"""A memory service that never answers: context windows must come without the bias."""


@pytest.fixture(scope="module")
async def stack(module_database: str, redis_server: RunningServer,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReplayStack]:
    """One ingest + replay pair for a module's tests (Redis db 5 as bus and hot store)."""
    if redis_server.controllable and not redis_server.is_running():
        redis_server.restart()
    url = await flushed_db(redis_server.url, 5)
    running = start_stack(module_database, url, url, log_dir=tmp_path_factory.mktemp("replay-stack"),
                          replay_env={"snapshot_every": str(SNAPSHOT_EVERY), "snapshot_keep": "50",
                                      "memory_url": UNREACHABLE_MEMORY})
    yield running
    running.kill()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


StartProcess = Callable[..., ServiceProcess]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[StartProcess, StartProcess]]:
    """Factories for ingest and replay processes owned by one test (killed afterwards)."""
    started: list[ServiceProcess] = []

    def ingest(database_url: str, bus_url: str, **env: str) -> ServiceProcess:
        proc = ingest_process(database_url, bus_url, log_dir=tmp_path, **env)
        started.append(proc)
        return proc.start()

    def replay(database_url: str, bus_url: str, redis_url: str, ingest_url: str,
               **env: str) -> ServiceProcess:
        proc = replay_process(database_url, bus_url, redis_url, ingest_url, log_dir=tmp_path,
                              snapshot_every=str(SNAPSHOT_EVERY), **env)
        started.append(proc)
        return proc.start()

    yield ingest, replay
    for proc in started:
        proc.kill()
