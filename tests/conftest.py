"""Real servers for the whole suite (README: test servers), started lazily: only what a test asks for.

Session servers come from `LIFELINE_TEST_*_URL` if set, else testcontainers when a
Docker engine answers, else the embedded packages (see `lifeline_servers.policy`).
Per-test fixtures hand out isolated slices of them: a fresh database, a flushed
Redis db, a clean bus.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from lifeline_servers import (
    KINDS,
    RunningServer,
    describe,
    server_from_env_or_start,
    source_for,
    start_tansu,
)
from lifeline_servers import free_port as _free_port
from lifeline_servers.running import Kind
from lifeline_testing.databases import create_database, drop_database
from lifeline_testing.redis_dbs import flushed_db

# tansu holds a new group's join for about half the session timeout: keep it short in
# tests so every Kafka consumer (services started as subprocesses inherit this) joins fast.
os.environ.setdefault("LIFELINE_KAFKA_SESSION_TIMEOUT_MS", "3000")
# Services started by tests stop at once: the blue-green pause before draining (1 s by
# default, for a load balancer to notice /ready) is tested on its own with its own value.
os.environ.setdefault("LIFELINE_SHUTDOWN_READY_DELAY_S", "0")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"test servers: {describe(kind)}" for kind in KINDS]


def _up(server: RunningServer) -> RunningServer:
    """Bring back a shared server an earlier failure test left down."""
    if server.controllable and not server.is_running():
        server.restart()
    return server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RunningServer]:
    """The session's Redis-protocol server (valkey when embedded)."""
    server = server_from_env_or_start("redis")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[RunningServer]:
    """The session's PostgreSQL server; `.url` names its `postgres` database."""
    server = server_from_env_or_start("postgres")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_server() -> Iterator[RunningServer]:
    """The session's Kafka-protocol broker (tansu when embedded); `.url` is kafka://host:port."""
    server = server_from_env_or_start("kafka")
    yield server
    server.stop()


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    return _free_port()


@pytest.fixture
def scratch_path() -> Iterator[Path]:
    """A temporary directory outside pytest's basetemp, removed afterwards.

    Use it for Postgres data: as root, Postgres runs as an unprivileged user that
    must traverse every parent directory, and each pytest session starting on the
    machine resets /tmp/pytest-of-<user> to 0700 — mid-test for a concurrent one.
    """
    path = Path(tempfile.mkdtemp(prefix="lifeline-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def disposable_server() -> Iterator[Callable[[Kind], RunningServer]]:
    """A factory of servers owned by one test, for tests that kill or restart them
    without disturbing the shared ones. Under LIFELINE_TEST_*_URL it returns that
    external server, which refuses kill/restart with a clear error."""
    started: list[RunningServer] = []

    def start(kind: Kind) -> RunningServer:
        server = server_from_env_or_start(kind)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def fresh_database(postgres_server: RunningServer) -> AsyncIterator[str]:
    """The URL of a new, empty database for this test only; dropped afterwards
    (connections still open are cut)."""
    url = await create_database(_up(postgres_server).url)
    yield url
    await drop_database(url, _up(postgres_server).url)


@pytest.fixture(scope="module")
async def module_database(postgres_server: RunningServer) -> AsyncIterator[str]:
    """Like `fresh_database`, shared by the tests of one module (for costly setups)."""
    url = await create_database(_up(postgres_server).url)
    yield url
    await drop_database(url, _up(postgres_server).url)


MODULE_REDIS_DB = 6
"""Module-wide stacks' own Redis db, so tests that flush db 0 cannot disturb them (one
module's processes are gone before the next module's fixture flushes it)."""


@pytest.fixture(scope="module")
async def module_bus(redis_server: RunningServer) -> str:
    """A flushed Redis db of the session server, for one module's costly stack."""
    return await flushed_db(_up(redis_server).url, MODULE_REDIS_DB)


@pytest.fixture
async def redis_url(redis_server: RunningServer) -> str:
    """`redis://host:port/0` on the session server, that db flushed before the test."""
    return await flushed_db(_up(redis_server).url)


async def _delete_all_topics(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
        if topics:
            await admin.delete_topics(topics)
        for _ in range(100):  # real Kafka deletes asynchronously
            if not set(topics) & set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


@pytest.fixture
async def kafka_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """`kafka://host:port` of a broker holding no topics and no group offsets.

    Embedded: a fresh tansu for this test (it starts in ~0.1 s). Otherwise the
    shared broker, with every topic deleted first.
    """
    if source_for("kafka") == "embedded":
        own = await asyncio.to_thread(start_tansu)
        yield own.url
        await asyncio.to_thread(own.stop)
        return
    shared: RunningServer = request.getfixturevalue("kafka_server")
    await _delete_all_topics(_up(shared).bootstrap)
    yield shared.url


@pytest.fixture(params=["redis", pytest.param("kafka", marks=pytest.mark.kafka)], ids=["redis", "kafka"])
def bus_url(request: pytest.FixtureRequest) -> str:
    """The bus URL for each bus kind in turn: a flushed `redis://…/0`, then a clean
    `kafka://host:port`; the same test runs on both."""
    # Sync on purpose: it resolves async fixtures, which cannot be done from a
    # coroutine already running on the loop.
    return str(request.getfixturevalue(f"{request.param}_url"))
