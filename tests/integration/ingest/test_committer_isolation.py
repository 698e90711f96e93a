"""The group commit isolates a request whose statement PostgreSQL refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from lifeline_events import NewEvent, TurnRecorded
from lifeline_ingest.app import MIGRATIONS
from lifeline_ingest.committer import AppendRequest, GroupCommitter
from lifeline_store import StoreError, apply_migrations, create_pool


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_database)
    await apply_migrations(pool, "ingest", MIGRATIONS)
    yield pool
    await pool.close()


def _turn(text: str) -> NewEvent:
    """A turn carrying `text` unchecked: content the schema let through but the statement
    refuses (a NUL here, which text columns reject)."""
    valid = NewEvent(event_type="turn.recorded", turn_id=1,
                     payload=TurnRecorded(role="user", text="x"))
    return valid.model_copy(update={"payload": valid.payload.model_copy(update={"text": text})})


async def test_a_refused_request_fails_alone_and_its_group_commits(pool: asyncpg.Pool) -> None:
    """Requests sharing a group with a request the database refuses still commit."""
    committer = GroupCommitter(pool, workers=1)
    committer.start()
    try:
        texts = [f"fine {i}" for i in range(8)]
        texts[3] = "bad \x00 byte"
        requests = [AppendRequest("t", f"s-{i}", [_turn(t)]) for i, t in enumerate(texts)]
        answers = await asyncio.gather(*(committer.append(r) for r in requests),
                                       return_exceptions=True)
    finally:
        await committer.stop()
    assert isinstance(answers[3], StoreError)
    good = [a for i, a in enumerate(answers) if i != 3]
    assert all(isinstance(a, list) and a[0].seq == 1 for a in good), answers
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM ingest.events")
    assert stored == 7
