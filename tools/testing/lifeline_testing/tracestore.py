"""Start trace-store, and the ingest in front of it, as real processes (tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth
from lifeline_testing.waiting import eventually


def service_env(database_url: str, bus_url: str, **settings: Any) -> dict[str, str]:
    """LIFELINE_* variables for one service; `settings` are names of the settings class."""
    env = {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_BUS_URL": bus_url,
           "LIFELINE_REDIS_URL": bus_url if bus_url.startswith("redis") else "redis://127.0.0.1:1/0",
           "LIFELINE_SHUTDOWN_GRACE_S": "5"}
    env.update({f"LIFELINE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


class Services:
    """Processes started by one test, killed at the end; `log_dir` keeps their stdout."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def start(self, module: str, env: dict[str, str], *, extra: dict[str, str] | None = None,
              wait_ready: bool = True) -> ServiceProcess:
        proc = ServiceProcess(module, {**env, **(extra or {})}, log_dir=self.log_dir)
        self.started.append(proc)
        return proc.start(wait_ready=wait_ready, timeout=60)

    def ingest(self, database_url: str, bus_url: str, *, extra: dict[str, str] | None = None,
               **settings: Any) -> ServiceProcess:
        return self.start("lifeline_ingest", service_env(database_url, bus_url, **settings), extra=extra)

    def tracestore(self, database_url: str, bus_url: str, *, ingest: ServiceProcess | None = None,
                   extra: dict[str, str] | None = None, **settings: Any) -> ServiceProcess:
        if ingest is not None:
            settings.setdefault("ingest_url", ingest.url)
        return self.start("lifeline_tracestore", service_env(database_url, bus_url, **settings), extra=extra)

    def stop_all(self) -> None:
        for proc in self.started:
            proc.kill()


@contextmanager
def services(log_dir: Path) -> Iterator[Services]:
    running = Services(log_dir)
    try:
        yield running
    finally:
        running.stop_all()


async def wait_session_traces(url: str, person: str, session: str, count: int, *,
                              key: str = TEST_API_KEY, timeout: float = 30) -> list[dict[str, Any]]:
    """Poll the trace store until the session has `count` traces; return them."""
    async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=10) as client:
        async def probe() -> list[dict[str, Any]] | None:
            r = await client.get(f"/replay/session/{person}/{session}", params={"limit": 1000})
            traces = r.json() if r.status_code == 200 else []
            return traces if len(traces) >= count else None

        return await eventually(probe, timeout=timeout, what=f"{count} traces of {session}")
