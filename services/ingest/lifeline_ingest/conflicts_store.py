"""The conflict strategies' SQL: the events a stale batch missed, and parked batches.

Both read the log by its primary key (tenant, session, seq), so a read costs the range
it asks for and nothing else (for a branch, the range of each session of its lineage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from lifeline_events import ConflictOpened, Event
from lifeline_ingest import branch_store
from lifeline_ingest.domain import SessionCursor
from lifeline_ingest.store import SessionKey
from lifeline_store import wrap_errors

_AT = """
SELECT seq, envelope::text AS body FROM ingest.events
WHERE tenant_id = $1 AND session_id = $2 AND seq = ANY($3::bigint[])
"""


async def read_range(conn: asyncpg.Connection, key: SessionKey, after: int,
                     upto: int) -> list[Event] | None:
    """The session's events in (after, upto], in seq order (the caller bounds the width); a
    branch's include those it inherits from its parent (branch_store). None when the log no
    longer holds them all (WAL retention archived some): nothing is merged against a history
    that cannot be read whole."""
    if upto <= after:
        return []
    with wrap_errors("read events since expected_seq"):
        bodies = await branch_store.read_range(conn, key.tenant_id, key.session_id, after, upto)
    if len(bodies) != upto - after:
        return None
    return [Event.from_json(b) for b in bodies]


async def read_missed(conn: asyncpg.Connection, wanted: Sequence[tuple[int, SessionKey, int]],
                      cursors: Mapping[SessionKey, SessionCursor]) -> dict[int, list[Event] | None]:
    """For each `(request index, session, expected_seq)`, the events after it up to the
    session's last seq: one read per session, from the lowest `expected_seq` asked, so ten
    stale writers in one group commit cost one query, not ten."""
    lowest: dict[SessionKey, int] = {}
    for _, key, expected in wanted:
        lowest[key] = min(lowest.get(key, expected), expected)
    ranges = {key: await read_range(conn, key, low, cursors[key].last_seq) for key, low in lowest.items()}
    return {i: None if (got := ranges[key]) is None else [e for e in got if e.seq > expected]
            for i, key, expected in wanted}


async def read_opened(pool: asyncpg.Pool, tenant: str, session: str,
                      seqs: Sequence[int]) -> dict[int, ConflictOpened]:
    """The `session.conflict.opened` payloads logged at `seqs` (the room keeps only their seq)."""
    if not seqs:
        return {}
    with wrap_errors("read parked batches"):
        rows = await pool.fetch(_AT, tenant, session, list(seqs))
    found = {r["seq"]: Event.from_json(r["body"]).payload for r in rows}
    return {seq: p for seq, p in found.items() if isinstance(p, ConflictOpened)}
