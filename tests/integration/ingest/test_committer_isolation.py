"""The group commit isolates a request whose statement PostgreSQL refuses, and refuses a
plan built on a stale read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from lifeline_events import NewEvent, TurnRecorded
from lifeline_ingest import branch_store
from lifeline_ingest.app import MIGRATIONS
from lifeline_ingest.committer import AppendRequest, GroupCommitter
from lifeline_ingest.domain import plan_append
from lifeline_ingest.errors import BranchPendingError
from lifeline_ingest.store import SessionKey, read_cursors, write_appends
from lifeline_store import StoreConflictError, StoreError, apply_migrations, create_pool, wrap_errors


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


async def test_a_plan_that_saw_no_session_is_refused_once_a_branch_took_the_id(pool: asyncpg.Pool) -> None:
    """An append planned while its session was absent, written after a branch of that id
    was created, fails whole: the branch's seqs up to from_seq are its parent's, so the
    log's keys alone would let the plan's seq 1 in beside them. Re-read, the same append
    is refused as the branch's `session.branched` is not logged yet."""
    committer = GroupCommitter(pool, workers=1)
    committer.start()
    try:
        await committer.append(AppendRequest("t", "root", [
            _turn("one"), _turn("two").model_copy(update={"turn_id": 2})]))
    finally:
        await committer.stop()
    branch = SessionKey("t", "root.x")
    async with pool.acquire() as conn:
        cursors = await read_cursors(conn, [branch], [], [])
        assert not cursors[branch].stored
        rows, _ = plan_append(cursors[branch], [_turn("racer")], expected_seq=None,
                              now=datetime.now(UTC), new_id=uuid.uuid4)
        await branch_store.create(pool, "t", "root.x", "root", 2, "x")
        with pytest.raises(StoreConflictError), wrap_errors("append events"):  # as the committer
            await write_appends(conn, rows, [cursors[branch]], {})
        again = await read_cursors(conn, [branch], [], [])
        assert again[branch].stored and again[branch].branched_at == 2
        with pytest.raises(BranchPendingError):
            plan_append(again[branch], [_turn("racer")], expected_seq=None,
                        now=datetime.now(UTC), new_id=uuid.uuid4)
        assert await conn.fetchval("SELECT count(*) FROM ingest.events WHERE session_id = 'root.x'") == 0
