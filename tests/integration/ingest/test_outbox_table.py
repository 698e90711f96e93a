"""The outbox beside the log (migration 004): one narrow row per event, written with it,
marked by the relay; a log from before 004 keeps every event's published state."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from lifeline_events import NewEvent, TurnRecorded
from lifeline_ingest.app import MIGRATIONS
from lifeline_ingest.committer import AppendRequest, GroupCommitter
from lifeline_ingest.store import UNPUBLISHED_SQL, fetch_unpublished, mark_published, stop_leading, try_lead
from lifeline_store import apply_migrations, create_pool


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_database)
    yield pool
    await pool.close()


def _turn(n: int) -> NewEvent:
    return NewEvent(event_type="turn.recorded", turn_id=n, payload=TurnRecorded(role="user", text=f"t{n}"))


async def test_each_append_writes_one_unpublished_outbox_row_the_relay_reads_and_marks(
        pool: asyncpg.Pool) -> None:
    await apply_migrations(pool, "ingest", MIGRATIONS)
    committer = GroupCommitter(pool, workers=1)
    committer.start()
    try:
        await committer.append(AppendRequest("t", "a", [_turn(1), _turn(2)]))
        await committer.append(AppendRequest("t", "b", [_turn(1)]))
    finally:
        await committer.stop()
    async with pool.acquire() as conn:
        rows = await fetch_unpublished(conn, 10)
        assert [(r.session_id, r.body.count(b'"seq"')) for r in rows] == [("a", 1), ("a", 1), ("b", 1)]
        assert [r.id for r in rows] == sorted(r.id for r in rows)  # log order
        await mark_published(conn, [rows[0].id])
        assert [r.id for r in await fetch_unpublished(conn, 10)] == [r.id for r in rows[1:]]
        marked = await conn.fetch("SELECT id, published_at FROM ingest.outbox ORDER BY id")
    assert [r["id"] for r in marked] == [r.id for r in rows]
    assert [r["published_at"] is not None for r in marked] == [True, False, False]


async def test_a_log_from_before_the_outbox_keeps_each_event_s_published_state(
        pool: asyncpg.Pool, tmp_path: Path) -> None:
    """Migrations 001-003, two events (one published), then 004: the published one is not
    published again, the other is next in the relay's read."""
    before = tmp_path / "migrations"
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if int(sql.name[:3]) < 4:
            shutil.copy(sql, before / sql.name)
    await apply_migrations(pool, "ingest", before)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        for seq, published in ((1, now), (2, None)):
            await conn.execute(
                "INSERT INTO ingest.events (tenant_id, session_id, seq, event_id, event_type, "
                "schema_version, occurred_at, recorded_at, envelope, published_at) "
                "VALUES ('t', 'old', $1, $2, 'session.started', 1, $3, $3, $4::jsonb, $5)",
                seq, uuid.uuid4(), now, {"seq": seq}, published)
    assert await apply_migrations(pool, "ingest", MIGRATIONS) == ["004_outbox.sql"]
    async with pool.acquire() as conn:
        unpublished = await fetch_unpublished(conn, 10)
        columns = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'ingest' AND table_name = 'events' AND column_name = 'published_at'")
        published = await conn.fetchval(
            "SELECT o.published_at FROM ingest.outbox o JOIN ingest.events e ON e.id = o.id WHERE e.seq = 1")
    assert [r.body for r in unpublished] == [b'{"seq": 2}']
    assert published is not None and abs((published - now).total_seconds()) < 1e-3
    assert columns == 0


async def test_the_relay_leader_reads_the_outbox_by_an_ordered_index_scan(pool: asyncpg.Pool) -> None:
    """With statistics taken during a backlog, a connection plans the read as a scan of every
    outbox row (or a bitmap scan of every entry the partial index holds for rows already
    published, until a vacuum); the leader's plans an ordered index scan that stops at LIMIT."""
    await apply_migrations(pool, "ingest", MIGRATIONS)
    committer = GroupCommitter(pool, workers=1)
    committer.start()
    try:
        for first in range(1, 20_001, 1000):
            await committer.append(AppendRequest("t", "a", [_turn(n) for n in range(first, first + 1000)]))
        async with pool.acquire() as conn:  # statistics taken with a backlog, as under load
            while len(rows := await fetch_unpublished(conn, 1000)) == 1000:
                await mark_published(conn, [r.id for r in rows[:700]])
            await conn.execute("ANALYZE ingest.outbox")
            while rows := await fetch_unpublished(conn, 1000):
                await mark_published(conn, [r.id for r in rows])
        await committer.append(AppendRequest("t", "a", [_turn(n) for n in range(20_001, 20_021)]))
    finally:
        await committer.stop()
    async with pool.acquire() as plain, pool.acquire() as leader:
        default = "\n".join(r[0] for r in await plain.fetch(f"EXPLAIN {UNPUBLISHED_SQL}", 1000))
        assert await try_lead(leader, 12345)
        led = "\n".join(r[0] for r in await leader.fetch(f"EXPLAIN {UNPUBLISHED_SQL}", 1000))
        assert [r.id for r in await fetch_unpublished(leader, 1000)] == [
            r.id for r in await fetch_unpublished(plain, 1000)]  # the same rows, only planned apart
        await stop_leading(leader, 12345)
    ordered = re.compile(r"Index (Only )?Scan using outbox_unpublished")
    assert not ordered.search(default), default  # a seq or bitmap scan, then a sort of what it found
    assert ordered.search(led) and "Bitmap" not in led and "Seq Scan" not in led, led
