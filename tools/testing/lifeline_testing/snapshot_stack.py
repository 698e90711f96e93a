"""ingest + snapshot as real processes on one database and bus, and the oracle to check them.

The oracle is `lifeline_events.fold` over ingest's log read back over HTTP: whatever
the snapshot service holds must equal it, byte for byte in canonical JSON.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from lifeline_servers import free_port
from lifeline_store.compression import json_document
from lifeline_testing.processes import TEST_API_KEY, ServiceProcess


@dataclass
class SnapshotStack:
    ingest: ServiceProcess
    snapshot: ServiceProcess
    database_url: str
    bus_url: str

    def kill(self) -> None:
        self.snapshot.kill()
        self.ingest.kill()


def _common(database_url: str, bus_url: str) -> dict[str, str]:
    return {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_BUS_URL": bus_url,
            "LIFELINE_REDIS_URL": bus_url if bus_url.startswith("redis") else "",
            "LIFELINE_SHUTDOWN_GRACE_S": "5"}


def snapshot_process(database_url: str, bus_url: str, ingest_url: str, log_dir: Path,
                     **env: str) -> ServiceProcess:
    """A snapshot service (not started) with test settings: a snapshot every 5 events,
    fast maintenance and reclaim, replay pointed at a port nobody listens on."""
    settings = {**_common(database_url, bus_url), "LIFELINE_INGEST_URL": ingest_url,
                "LIFELINE_SERVICE_API_KEY": TEST_API_KEY, "LIFELINE_SNAPSHOT_EVERY": "5",
                "LIFELINE_MAINTENANCE_INTERVAL_S": "0.5", "LIFELINE_BUS_RECLAIM_IDLE_MS": "2000",
                "LIFELINE_REPLAY_URL": f"http://127.0.0.1:{free_port()}", "LIFELINE_MEMORY_URL": "",
                **{f"LIFELINE_{k.upper()}": v for k, v in env.items()}}
    return ServiceProcess("lifeline_snapshot", settings, log_dir=log_dir)


def start_stack(database_url: str, bus_url: str, log_dir: Path, **snapshot_env: str) -> SnapshotStack:
    """Start ingest, then snapshot (both ready) on `database_url` and `bus_url`."""
    ingest = ServiceProcess("lifeline_ingest", _common(database_url, bus_url), log_dir=log_dir)
    snapshot = snapshot_process(database_url, bus_url, ingest.url, log_dir, **snapshot_env)
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(ingest.start), pool.submit(snapshot.start)]
        errors = [f.exception() for f in started]
    if any(errors):
        ingest.kill()
        snapshot.kill()
        raise next(e for e in errors if e)
    return SnapshotStack(ingest, snapshot, database_url, bus_url)


async def start_stack_async(database_url: str, bus_url: str, log_dir: Path, **env: str) -> SnapshotStack:
    return await asyncio.to_thread(start_stack, database_url, bus_url, log_dir, **env)


async def projected_state(database_url: str, session: str, tenant: str = "default") -> dict[str, Any] | None:
    """What the snapshot service holds as the session's folded state."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT state::text AS state, state_blob, compression FROM snapshot.session_state "
            "WHERE tenant_id = $1 AND session_id = $2", tenant, session)
        if row is None:
            return None
        parsed = {**dict(row), "state": orjson.loads(row["state"]) if row["state"] else None}
        return json_document(parsed, f"state of session {session!r}")  # stored compressed or as json
    finally:
        await conn.close()


async def snapshot_rows(database_url: str, session: str, tenant: str = "default") -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT id, at_seq, content_hash, trigger, label, announced_at FROM snapshot.snapshots "
            "WHERE tenant_id = $1 AND session_id = $2 ORDER BY at_seq, id", tenant, session)
    finally:
        await conn.close()
