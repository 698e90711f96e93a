"""Throwaway PostgreSQL databases on one server, for tests and benchmarks."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, database: str) -> str:
    """`url` with its database replaced by `database`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def create_database(admin_url: str, prefix: str = "t") -> str:
    """Create an empty database named `<prefix>_<random>`; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(url: str, admin_url: str) -> None:
    """Drop the database `url` names (connections still open are cut)."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
