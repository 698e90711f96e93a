"""Ingest as a real process on real PostgreSQL and a real bus."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lifeline_testing.processes import ServiceProcess

StartIngest = Callable[..., ServiceProcess]


@pytest.fixture
def start_ingest(tmp_path) -> Iterator[StartIngest]:
    """Start ingest processes (killed after the test) on the given database and bus."""
    started: list[ServiceProcess] = []

    def start(database_url: str, bus_url: str, *, redis_url: str | None = None,
              wait_ready: bool = True, **env: str) -> ServiceProcess:
        settings = {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_BUS_URL": bus_url,
                    "LIFELINE_REDIS_URL": redis_url or (bus_url if bus_url.startswith("redis") else ""),
                    "LIFELINE_SHUTDOWN_GRACE_S": "5",
                    **{f"LIFELINE_{k.upper()}": v for k, v in env.items()}}
        proc = ServiceProcess("lifeline_ingest", settings, log_dir=tmp_path)
        started.append(proc)
        return proc.start(wait_ready=wait_ready)

    yield start
    for proc in started:
        proc.kill()
