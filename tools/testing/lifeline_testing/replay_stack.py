"""ingest + replay as real processes, and the oracle replay is checked against.

Used by replay's integration tests and by `bench/bench_replay.py`: start both
services on given servers, append through ingest's HTTP API, read ingest's log and
fold it (the oracle), read replay's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth


def ingest_process(database_url: str, bus_url: str, *, log_dir: Path, **env: str) -> ServiceProcess:
    settings = {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_BUS_URL": bus_url,
                "LIFELINE_REDIS_URL": bus_url if bus_url.startswith("redis") else "",
                "LIFELINE_SHUTDOWN_GRACE_S": "5",
                **{f"LIFELINE_{k.upper()}": v for k, v in env.items()}}
    return ServiceProcess("lifeline_ingest", settings, log_dir=log_dir)


def replay_process(database_url: str, bus_url: str, redis_url: str, ingest_url: str, *,
                   log_dir: Path, **env: str) -> ServiceProcess:
    """replay on `redis_url` (its hot store) reading ingest at `ingest_url` with the test admin key."""
    settings = {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_BUS_URL": bus_url,
                "LIFELINE_REDIS_URL": redis_url, "LIFELINE_INGEST_URL": ingest_url,
                "LIFELINE_SERVICE_API_KEY": TEST_API_KEY, "LIFELINE_SHUTDOWN_GRACE_S": "5",
                **{f"LIFELINE_{k.upper()}": v for k, v in env.items()}}
    return ServiceProcess("lifeline_replay", settings, log_dir=log_dir)


@dataclass
class ReplayStack:
    """A running ingest and replay pair."""

    ingest: ServiceProcess
    replay: ServiceProcess

    def kill(self) -> None:
        self.replay.kill()
        self.ingest.kill()


def start_stack(database_url: str, bus_url: str, redis_url: str, *, log_dir: Path,
                ingest_env: dict[str, str] | None = None,
                replay_env: dict[str, str] | None = None) -> ReplayStack:
    ingest = ingest_process(database_url, bus_url, log_dir=log_dir, **(ingest_env or {})).start()
    try:
        replay = replay_process(database_url, bus_url, redis_url, ingest.url, log_dir=log_dir,
                                **(replay_env or {})).start()
    except Exception:
        ingest.kill()
        raise
    return ReplayStack(ingest, replay)


async def replay_state(client: httpx.AsyncClient, replay_url: str, session: str, *,
                       min_seq: int | None = None, key: str = TEST_API_KEY) -> httpx.Response:
    params = {"min_seq": min_seq} if min_seq is not None else {}
    return await client.get(f"{replay_url}/v1/sessions/{session}/state", params=params, headers=auth(key))
