"""The stack's servers, dev API key and `stack.env`: everything but the service processes.

Servers named by `LIFELINE_REDIS_URL` / `LIFELINE_DATABASE_URL` / `LIFELINE_BUS_URL`
are used as they are; otherwise embedded ones are started with data kept under the
home directory (`.lifeline/valkey/`, `.lifeline/pg/`), so a second `make run` finds
the first one's sessions.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from lifeline_launcher.services import ServiceSpec
from lifeline_servers import (
    RunningServer,
    port_is_free,
    start_postgres,
    start_tansu,
    start_valkey,
)

# Preferred ports for the embedded servers: stable across runs (stack.env stays
# valid) and off 6379/5432, where a machine's own Redis/PostgreSQL usually listen.
REDIS_PORT = 6390
POSTGRES_PORT = 5433
DATABASE = "lifeline"
SCOPES = ["ingest", "read", "admin", "operator"]
"""The dev key is the platform operator (and the services' key): it may cross tenants."""


@dataclass
class Stack:
    """What the services connect to, and the embedded servers we must stop at the end."""

    redis_url: str
    database_url: str
    bus_url: str
    owned: list[RunningServer] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the servers we started, newest first; external ones are not ours."""
        for server in reversed(self.owned):
            server.stop()
        self.owned.clear()


def _port(preferred: int) -> int | None:
    return preferred if port_is_free(preferred) else None


def start_stack(home: Path, bus: str = "redis") -> Stack:
    """Use the servers named in the environment, start embedded ones for the rest.

    `bus` is `redis` (default: Redis Streams on the same Redis) or `kafka` (an
    embedded tansu broker); LIFELINE_BUS_URL overrides both.
    """
    stack = Stack("", "", "")
    try:
        stack.redis_url = os.environ.get("LIFELINE_REDIS_URL") or _own(
            stack, start_valkey(home / "valkey", port=_port(REDIS_PORT), persist=True)
        )
        stack.database_url = os.environ.get("LIFELINE_DATABASE_URL") or _own_database(stack, home)
        stack.bus_url = os.environ.get("LIFELINE_BUS_URL") or (
            _own(stack, start_tansu()) if bus == "kafka" else stack.redis_url
        )
    except BaseException:
        stack.stop()
        raise
    return stack


def _own(stack: Stack, server: RunningServer) -> str:
    stack.owned.append(server)
    return server.url


def _own_database(stack: Stack, home: Path) -> str:
    server = start_postgres(home / "pg", port=_port(POSTGRES_PORT), durable=True)
    _own(stack, server)
    asyncio.run(_ensure_database(server.url, DATABASE))
    return server.url.rsplit("/", 1)[0] + f"/{DATABASE}"


async def _ensure_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def dev_api_key(home: Path) -> str:
    """The stack's dev key: made once, then read from `<home>/dev-api-key` (mode 600)."""
    path = home / "dev-api-key"
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    key = "ll_dev_" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def api_keys_json(key: str, tenant: str) -> str:
    """LIFELINE_API_KEYS for the services: any keys already set, plus the dev key."""
    keys = json.loads(os.environ.get("LIFELINE_API_KEYS") or "{}")
    keys[key] = {"tenant": tenant, "scopes": SCOPES}
    return json.dumps(keys)


def service_env(stack: Stack, spec: ServiceSpec, specs: list[ServiceSpec], keys: str) -> dict[str, str]:
    """The environment of one service process: ours plus the stack's coordinates."""
    env = dict(os.environ)
    env.update({s.env_name: s.url for s in specs})
    env.update(
        LIFELINE_DATABASE_URL=stack.database_url,
        LIFELINE_REDIS_URL=stack.redis_url,
        LIFELINE_BUS_URL=stack.bus_url,
        LIFELINE_PORT=str(spec.port),
        LIFELINE_API_KEYS=keys,
        LIFELINE_SERVICE_API_KEY=service_key(keys),
        LIFELINE_DEFAULT_TENANT=default_tenant(),
        LIFELINE_SERVICE_NAME=spec.name,
        PYTHONUNBUFFERED="1",
    )
    return env


def service_key(keys_json: str) -> str:
    """The key services use to call each other: the first key with the operator scope."""
    for key, grant in json.loads(keys_json).items():
        if "operator" in grant.get("scopes", []):
            return key
    return ""


def default_tenant() -> str:
    return os.environ.get("LIFELINE_DEFAULT_TENANT") or "default"


def write_stack_env(home: Path, stack: Stack, key: str, running: list[ServiceSpec]) -> Path:
    """`<home>/stack.env`: every URL a user needs, in `KEY=value` lines for `source`."""
    lines = [
        f"LIFELINE_API_KEY={key}",
        f"LIFELINE_REDIS_URL={stack.redis_url}",
        f"LIFELINE_DATABASE_URL={stack.database_url}",
        f"LIFELINE_BUS_URL={stack.bus_url}",
        *(f"{spec.env_name}={spec.url}" for spec in running),
    ]
    explorer = explorer_url(running)
    if explorer:
        lines.append(f"LIFELINE_EXPLORER_URL={explorer}")
    path = home / "stack.env"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def explorer_url(running: list[ServiceSpec]) -> str | None:
    """The session explorer's page, which trace-store serves under `/ui/` (None without it)."""
    tracestore = next((spec for spec in running if spec.module == "lifeline_tracestore"), None)
    return f"{tracestore.url}/ui/" if tracestore else None
