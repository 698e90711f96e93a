"""Numbered SQL migrations per service schema, applied once under an advisory lock.

Files are named `NNN_description.sql` and live in the service's `migrations/`
folder. Several replicas may start at once: the advisory lock makes the first one
apply and the others wait and then find nothing left to do.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import asyncpg

from lifeline_store.errors import StoreError, wrap_errors

_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"migrations:{schema}".encode()).digest()[:8], "big", signed=True)


def discover(folder: Path) -> list[tuple[int, str, str]]:
    """Return (version, name, sql) for every migration file, in version order."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise StoreError(f"migration file {path.name} is not named NNN_description.sql")
        found.append((int(match.group(1)), path.name, path.read_text()))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"duplicate migration versions in {folder}")
    return sorted(found)


async def apply_migrations(pool: asyncpg.Pool, schema: str, folder: Path) -> list[str]:
    """Apply the pending migrations of `schema`; return the names applied now."""
    applied_now: list[str] = []
    with wrap_errors(f"migrate schema {schema}"):
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {
                    r["version"]
                    for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
                }
                for version, name, sql in discover(folder):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            f'INSERT INTO "{schema}".schema_migrations (version, name) VALUES ($1, $2)',
                            version, name,
                        )
                    applied_now.append(name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now
