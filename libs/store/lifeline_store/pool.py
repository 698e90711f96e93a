"""The asyncpg pool every service uses, set up for Lifeline's query shapes."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
import orjson

from lifeline_store.errors import wrap_errors


def dsn_for_asyncpg(url: str) -> str:
    """Accept SQLAlchemy-style `postgresql+asyncpg://` URLs as well as plain ones."""
    scheme = urlsplit(url).scheme
    if "+" in scheme:
        return url.replace(scheme, scheme.split("+", 1)[0], 1)
    return url


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON in and out through orjson: decoding is the dominant cost of reads.
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(
            typ,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(
    url: str, *, min_size: int = 2, max_size: int = 10, application_name: str = "lifeline"
) -> asyncpg.Pool:
    """Open a pool; raise StoreUnavailableError if PostgreSQL cannot be reached.

    `plan_cache_mode=force_custom_plan` keeps asyncpg's prepared statements from
    switching to a generic plan after five runs, which turns `seq > $2 LIMIT n`
    range reads into scans of every later event (docs/operations.md, performance notes).
    """
    with wrap_errors("connect to PostgreSQL"):
        return await asyncpg.create_pool(
            dsn_for_asyncpg(url),
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            timeout=10,
            command_timeout=30,
            server_settings={
                "plan_cache_mode": "force_custom_plan",
                "application_name": application_name,
            },
        )
