"""The SQL of branches: create one, walk its lineage, and read a log through it.

A branch's log is spliced at read time from the rows of its lineage. Walking up from
the session, each ancestor contributes its own rows up to a cap: the smallest
`from_seq` of the links below it. A branch's own rows all lie above its `from_seq`, so
the pieces are disjoint in seq and one `ORDER BY seq` yields the whole log, gapless
(a session that is no branch is a lineage of one, read exactly as before).

Creating a branch writes its `ingest.sessions` row at `last_seq = from_seq` (with the
parent's room as of `from_seq`, so the room rules see what the branch's fold shows) and
its `ingest.branches` row in one transaction; the route then appends `session.branched`
through the group committer, which plans it at `from_seq + 1` as for any session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from lifeline_events import COLLABORATION_TYPES, Room
from lifeline_ingest.branching import (
    BranchBeyondLogError,
    BranchExistsError,
    BranchLink,
    ParentNotFoundError,
    inherited_event_id,
    inherited_room,
    nominal_writer,
    rescope,
)
from lifeline_servicekit import MAX_INT64
from lifeline_store import wrap_errors


def _chain(seed: str) -> str:
    """The lineage walk every read through a branch starts with: `chain(session_id, cap)`
    holds the session (`seed` selects its row) and each ancestor, with the highest seq of
    its own rows that belongs to the history (the smallest `from_seq` below it)."""
    return f"""
WITH RECURSIVE chain (session_id, cap) AS (
    {seed}
  UNION ALL
    SELECT b.parent_session_id, LEAST(c.cap, b.from_seq)
    FROM chain c JOIN ingest.branches b ON b.tenant_id = $1 AND b.session_id = c.session_id
)
"""


_EVENTS = _chain("SELECT $2::text, $5::bigint") + """
SELECT e.seq, e.session_id, e.body FROM chain c CROSS JOIN LATERAL (
    SELECT seq, session_id, envelope::text AS body FROM ingest.events
    WHERE tenant_id = $1 AND session_id = c.session_id AND seq > $3 AND seq <= c.cap
    ORDER BY seq LIMIT $4) e
ORDER BY e.seq LIMIT $4
"""
_RANGE = _chain("SELECT $2::text, $4::bigint") + """
SELECT e.session_id, e.envelope::text AS body FROM chain c JOIN ingest.events e
  ON e.tenant_id = $1 AND e.session_id = c.session_id AND e.seq > $3 AND e.seq <= c.cap
ORDER BY e.seq
"""
_WAL = _chain("SELECT $2::text, $5::bigint") + """
SELECT e.*, o.published_at FROM chain c CROSS JOIN LATERAL (
    SELECT id, seq, session_id, event_id, event_type, turn_id, recorded_at FROM ingest.events
    WHERE tenant_id = $1 AND session_id = c.session_id AND seq > $3 AND seq <= c.cap
    ORDER BY seq LIMIT $4) e
LEFT JOIN ingest.outbox o ON o.id = e.id
ORDER BY e.seq LIMIT $4
"""
_ROOM_EVENTS = _chain("SELECT $2::text, $3::bigint") + """
SELECT e.envelope::text AS body FROM chain c JOIN ingest.events e
  ON e.tenant_id = $1 AND e.session_id = c.session_id AND e.seq <= c.cap
WHERE e.event_type = ANY($4::text[])
ORDER BY e.seq
"""
# starts at the branch's parent: only inherited rows (the branch's own are read by store)
_INHERITED_TURNS = _chain(
    "SELECT b.parent_session_id, b.from_seq FROM ingest.branches b "
    "WHERE b.tenant_id = $1 AND b.session_id = $2"
) + """
SELECT e.seq, e.event_id, e.turn_id FROM chain c JOIN ingest.events e
  ON e.tenant_id = $1 AND e.session_id = c.session_id AND e.seq <= c.cap AND e.turn_id = ANY($3::bigint[])
"""
_LINEAGE = """
WITH RECURSIVE up AS (
    SELECT b.*, 1 AS depth FROM ingest.branches b WHERE b.tenant_id = $1 AND b.session_id = $2
  UNION ALL
    SELECT b.*, up.depth + 1 FROM up
    JOIN ingest.branches b ON b.tenant_id = $1 AND b.session_id = up.parent_session_id
)
SELECT session_id, parent_session_id, from_seq, name, created_at FROM up ORDER BY depth
"""
_CHILDREN = """
SELECT session_id, parent_session_id, from_seq, name, created_at FROM ingest.branches
WHERE tenant_id = $1 AND parent_session_id = $2 ORDER BY created_at, session_id
"""


@dataclass(frozen=True)
class NewBranch:
    """A branch whose rows are written: `person_id` is the parent's, for its first event."""

    person_id: str | None
    resumed: bool
    """True when an earlier attempt wrote the rows but not `session.branched` (a retry)."""
    writer: str | None = None
    """Whom the room's write check sees appending `session.branched` (branching.nominal_writer)."""


async def create(pool: asyncpg.Pool, tenant: str, branch: str, parent: str, from_seq: int,
                 name: str | None) -> NewBranch:
    """Write the branch's session row (at `from_seq`) and its link, atomically.

    The parent's row is key-share locked meanwhile, so it cannot be removed under us.
    """
    with wrap_errors("create a branch"):
        async with pool.acquire() as conn, conn.transaction():
            head = await conn.fetchrow(
                "SELECT last_seq, person_id, room IS NOT NULL AS roomed FROM ingest.sessions "
                "WHERE tenant_id = $1 AND session_id = $2 FOR KEY SHARE", tenant, parent)
            if head is None:
                raise ParentNotFoundError(parent)
            if from_seq > head["last_seq"]:
                raise BranchBeyondLogError(parent, from_seq, head["last_seq"])
            room = await _room_at(conn, tenant, parent, from_seq) if head["roomed"] else None
            inserted = await conn.fetchval(
                "INSERT INTO ingest.sessions (tenant_id, session_id, last_seq, person_id, room) "
                "VALUES ($1, $2, $3, $4, $5::text::jsonb) ON CONFLICT DO NOTHING RETURNING true",
                tenant, branch, from_seq, head["person_id"], room.model_dump_json() if room else None)
            writer = nominal_writer(room)
            if not inserted:
                resumed = await _unfinished(conn, tenant, branch, parent, from_seq)
                return NewBranch(head["person_id"], resumed, writer)
            await conn.execute(
                "INSERT INTO ingest.branches (tenant_id, session_id, parent_session_id, from_seq, name) "
                "VALUES ($1, $2, $3, $4, $5)", tenant, branch, parent, from_seq, name)
    return NewBranch(head["person_id"], False, writer)


async def _room_at(conn: asyncpg.Connection, tenant: str, parent: str, from_seq: int) -> Room | None:
    """The parent's room as of `from_seq` (a session whose room column is NULL never had one)."""
    rows = await conn.fetch(_ROOM_EVENTS, tenant, parent, from_seq, sorted(COLLABORATION_TYPES))
    return inherited_room([r["body"] for r in rows])


async def _unfinished(conn: asyncpg.Connection, tenant: str, branch: str, parent: str,
                      from_seq: int) -> bool:
    """True for the same branch left without its first event; else the id is taken (409)."""
    row = await conn.fetchrow(
        "SELECT s.last_seq, b.parent_session_id, b.from_seq FROM ingest.sessions s "
        "LEFT JOIN ingest.branches b USING (tenant_id, session_id) "
        "WHERE s.tenant_id = $1 AND s.session_id = $2", tenant, branch)
    if row is not None and (row["parent_session_id"], row["from_seq"], row["last_seq"]) == (
            parent, from_seq, from_seq):
        return True
    raise BranchExistsError(branch)


async def lineage(pool: asyncpg.Pool, tenant: str, session: str) -> list[BranchLink]:
    """The links from `session` up to its root, nearest first ([] for a session that is no branch)."""
    with wrap_errors("read a lineage"):
        return [_link(r) for r in await pool.fetch(_LINEAGE, tenant, session)]


async def children(pool: asyncpg.Pool, tenant: str, session: str) -> list[BranchLink]:
    """The branches taken from `session`, oldest first."""
    with wrap_errors("read branches"):
        return [_link(r) for r in await pool.fetch(_CHILDREN, tenant, session)]


def _link(r: asyncpg.Record) -> BranchLink:
    return BranchLink(r["session_id"], r["parent_session_id"], r["from_seq"], r["name"], r["created_at"])


async def inherited_turns(conn: asyncpg.Connection, tenant: str, branch: str,
                          turn_ids: list[int]) -> list[tuple[int, uuid.UUID, int]]:
    """(seq, the branch's event id, turn id) of `turn_ids` the branch inherited from its
    lineage, so the append planner answers a re-sent inherited turn as the duplicate it is."""
    rows = await conn.fetch(_INHERITED_TURNS, tenant, branch, turn_ids)
    return [(r["seq"], inherited_event_id(branch, r["event_id"]), r["turn_id"]) for r in rows]


async def read_events(pool: asyncpg.Pool, tenant: str, session: str, after_seq: int,
                      limit: int) -> list[tuple[int, str]]:
    """(seq, envelope JSON text) after `after_seq` in seq order, inherited events re-scoped."""
    with wrap_errors("read events"):
        rows = await pool.fetch(_EVENTS, tenant, session, after_seq, limit, MAX_INT64)
    return [(r["seq"], r["body"] if r["session_id"] == session else rescope(r["body"], session))
            for r in rows]


async def read_range(conn: asyncpg.Connection, tenant: str, session: str, after: int,
                     upto: int) -> list[str]:
    """Envelope JSON texts in (after, upto], in seq order, inherited ones re-scoped (the
    conflict strategies' "what did this batch miss", which may reach into the parent)."""
    rows = await conn.fetch(_RANGE, tenant, session, after, upto)
    return [r["body"] if r["session_id"] == session else rescope(r["body"], session) for r in rows]


async def read_wal(pool: asyncpg.Pool, tenant: str, session: str, after_seq: int,
                   limit: int) -> list[dict[str, Any]]:
    """The WAL view of the spliced log; an inherited entry names the session that holds it."""
    with wrap_errors("read wal"):
        rows = await pool.fetch(_WAL, tenant, session, after_seq, limit, MAX_INT64)
    return [_wal_entry(r, session) for r in rows]


def _wal_entry(r: asyncpg.Record, session: str) -> dict[str, Any]:
    own = r["session_id"] == session
    event_id = r["event_id"] if own else inherited_event_id(session, r["event_id"])
    entry: dict[str, Any] = {
        "seq": r["seq"], "event_id": str(event_id),
        "event_type": r["event_type"], "turn_id": r["turn_id"], "recorded_at": r["recorded_at"].isoformat(),
        "published": r["published_at"] is not None,
        "published_at": r["published_at"].isoformat() if r["published_at"] else None,
    }
    if not own:
        entry["inherited_from"] = r["session_id"]
    return entry
