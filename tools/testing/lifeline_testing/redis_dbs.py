"""Redis dbs of the session's server handed to tests, emptied first.

The suite shares one Redis-protocol server: a test gets db 0 flushed (the `redis_url`
fixture), a module-wide stack its own db, so a test that flushes db 0 cannot disturb it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis


def db_url(url: str, db: int | None = None) -> str:
    """`url` pointed at `db`; without one, at the url's own db (0 when it names none)."""
    parts = urlsplit(url)
    if db is not None:
        return urlunsplit(parts._replace(path=f"/{db}"))
    return url if parts.path not in ("", "/") else url.rstrip("/") + "/0"


async def flushed_db(url: str, db: int | None = None) -> str:
    """`db_url(url, db)`, with that db emptied."""
    target = db_url(url, db)
    client = aioredis.from_url(target)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return target
