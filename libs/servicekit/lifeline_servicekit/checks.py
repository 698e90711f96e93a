"""Readiness checks and start-up steps every service repeats, written once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import structlog

from lifeline_bus import Bus
from lifeline_servicekit.app import ReadinessCheck
from lifeline_servicekit.audit import register as register_audit
from lifeline_servicekit.settings import ServiceSettings
from lifeline_store import StoreUnavailableError, apply_migrations, create_pool, wrap_errors

log = structlog.get_logger("lifeline.servicekit")


async def open_database(settings: ServiceSettings, schema: str, migrations: Path) -> asyncpg.Pool:
    """A pool on the service's database with the service's schema migrated.

    PostgreSQL that does not answer yet is waited for, with backoff (0.1 s doubling to
    5 s), for `database_wait_s`; each wait is logged. Only then does start-up fail.
    """
    deadline = time.monotonic() + settings.database_wait_s
    delay = 0.1
    while True:
        try:
            pool = await create_pool(settings.database_url, max_size=settings.db_pool_size,
                                     application_name=f"lifeline-{schema}")
            break
        except StoreUnavailableError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database.waiting", schema=schema, retry_in_s=delay, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    try:
        await apply_migrations(pool, schema, migrations)
        with wrap_errors("create the audit table"):
            await register_audit(pool, schema)
    except BaseException:
        await pool.close()
        raise
    return pool


def database_check(pool: Callable[[], asyncpg.Pool], *, critical: bool = True) -> ReadinessCheck:
    """PostgreSQL answers a query through the service's own pool."""
    async def probe() -> tuple[bool, str]:
        await pool().fetchval("SELECT 1")
        return True, "ok"

    return ReadinessCheck("database", probe, critical)


def bus_joined_check(bus: Callable[[], Bus]) -> ReadinessCheck:
    """Not ready while the broker answers but this process has not joined its groups yet.

    A process that reported ready before its consumers held partitions let a rolling
    update stop the replica that still held them: the group then had no member consuming
    until the newcomer's join completed (on the tests' broker, in one run, it never did).
    So readiness waits for the bus's first `start` to return — on Kafka, every group's first
    assignment. A broker that does not answer does not hold readiness back: the service
    then serves without the bus, as `bus_check` reports with its own criticality. Once
    joined, later rebalances and outages leave this check passing.
    """
    async def probe() -> tuple[bool, str]:
        if bus().started:
            return True, "ok"
        if not await bus().ping():
            return True, "bus unreachable: not waiting for a first join (see the bus check)"
        return False, "joining the bus: the broker answers, this process's consumers hold no partitions yet"

    return ReadinessCheck("bus_joined", probe, critical=True)


def bus_checks(bus: Callable[[], Bus], *, critical: bool = False) -> list[ReadinessCheck]:
    """A bus consumer's readiness: the bus answers (`bus_check`, `critical` as the service
    decides) and this process has joined its groups once (`bus_joined_check`, always)."""
    return [bus_check(bus, critical=critical), bus_joined_check(bus)]


def bus_check(bus: Callable[[], Bus], *, critical: bool = False) -> ReadinessCheck:
    """The bus answers ping AND every subscriber is really running (a NOGROUP-killed
    subscriber leaves ping green: docs/operations.md, bus notes)."""
    async def probe() -> tuple[bool, str]:
        if not await bus().ping():
            return False, "bus does not answer ping"
        if not bus().consumers_running():
            return False, "bus answers but a consumer is not running"
        return True, "ok"

    return ReadinessCheck("bus", probe, critical)
