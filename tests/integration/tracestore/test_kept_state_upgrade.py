"""Migration 006: trace-store's fold states stored compressed, with the person and the branch
origin in columns of their own — rows written before it stay readable by every query."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from lifeline_events import SessionState, canonical_json
from lifeline_servicekit.migrate import SCHEMAS, migrations_of
from lifeline_store import create_pool
from lifeline_store.compression import CompressionPolicy
from lifeline_store.migrations import apply_migrations
from lifeline_tracestore import session_states
from lifeline_tracestore.lineage import _BRANCHES, _LINEAGE

ORIGIN = {"parent_session_id": "root", "from_seq": 3, "name": "alt"}


async def test_states_from_before_006_are_read_and_then_rewritten_compressed(fresh_database: str,
                                                                             tmp_path: Path) -> None:
    """A state stored as json before 006 gets its person and origin columns from the migration;
    the loads, the person lookup and the lineage read it; the next save compresses it."""
    before = tmp_path / "before"
    before.mkdir()
    for sql in sorted(migrations_of("tracestore").glob("*.sql")):
        if int(sql.name[:3]) < 6:
            shutil.copy(sql, before / sql.name)
    pool = await create_pool(fresh_database)
    try:
        await apply_migrations(pool, SCHEMAS["tracestore"], before)
        state = {**orjson.loads(canonical_json(SessionState(session_id="b", seq=7, person_id="p-1"))),
                 "branched_from": ORIGIN}
        root = orjson.loads(canonical_json(SessionState(session_id="root")))
        await pool.execute("INSERT INTO traces.sessions (tenant_id, session_id, last_seq, state) "
                           "VALUES ('t', 'b', 7, $1::json), ('t', 'root', 3, $2::json)", state, root)
        assert await apply_migrations(pool, SCHEMAS["tracestore"], migrations_of("tracestore")) == [
            "006_kept_state_blob.sql"]
        row = await pool.fetchrow("SELECT person_id, branched_from, compression FROM traces.sessions "
                                  "WHERE session_id = 'b'")
        assert (row["person_id"], row["branched_from"], row["compression"]) == ("p-1", ORIGIN, "none")
        assert (await session_states.load_sessions(pool, [("t", "b")]))["t", "b"] == state
        assert await session_states.session_person(pool, "t", "b") == (True, "p-1")
        assert [r["parent_session_id"] for r in await pool.fetch(_LINEAGE, "t", "b")] == ["root"]
        assert [r["session_id"] for r in await pool.fetch(_BRANCHES, "t", "root")] == ["b"]

        # the next batch rewrites it compressed; every query answers the same
        big = orjson.dumps({**state, "pad": "x" * 2000}, option=orjson.OPT_SORT_KEYS)
        async with pool.acquire() as conn:
            await session_states.save_sessions(conn, [session_states.SavedSession("t", "b", 8, big, "p-1",
                                                                orjson.dumps(ORIGIN).decode())],
                                      CompressionPolicy())
        row = await pool.fetchrow("SELECT state, compression, last_seq FROM traces.sessions "
                                  "WHERE session_id = 'b'")
        assert (row["state"], row["compression"], row["last_seq"]) == (None, "zstd", 8)
        assert (await session_states.latest_states(pool, "t", ["b"]))["b"] == orjson.loads(big)
        assert await session_states.session_person(pool, "t", "b") == (True, "p-1")
        assert [r["name"] for r in await pool.fetch(_BRANCHES, "t", "root")] == ["alt"]
    finally:
        await pool.close()
