"""The SQL of versions: name a snapshot with a message and tags, list a session's versions.

A version is a row of `snapshot.snapshots` whose `message` is set. Snapshots are one row
per distinct state, so naming an unchanged state again names the same row: the first
message stays, the tags accumulate (a version is never silently rewritten).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from lifeline_snapshot import store
from lifeline_snapshot.domain import SnapshotDraft
from lifeline_store import wrap_errors
from lifeline_store.compression import CompressionPolicy

_COLUMNS = "id, session_id, at_seq, content_hash, trigger, created_at, message, tags, versioned_at"
_MARK = f"""
WITH before AS (
    SELECT message IS NOT NULL AS was_version FROM snapshot.snapshots
    WHERE tenant_id = $1 AND session_id = $2 AND id = $3
)
UPDATE snapshot.snapshots SET message = COALESCE(message, $4),
       tags = ARRAY(SELECT DISTINCT t FROM unnest(tags || $5::text[]) AS t ORDER BY t),
       versioned_at = COALESCE(versioned_at, $6::timestamptz, now())
WHERE tenant_id = $1 AND session_id = $2 AND id = $3
RETURNING {_COLUMNS}, (SELECT was_version FROM before) AS was_version
"""


@dataclass(frozen=True)
class Version:
    """A named snapshot; restoring `snapshot_id` rolls the session back to it."""

    snapshot_id: str
    session_id: str
    at_seq: int
    content_hash: str
    trigger: str
    created_at: datetime
    message: str
    tags: tuple[str, ...]
    versioned_at: datetime

    def summary(self) -> dict[str, Any]:
        return {"version_id": self.snapshot_id, "snapshot_id": self.snapshot_id,
                "session_id": self.session_id, "at_seq": self.at_seq, "content_hash": self.content_hash,
                "message": self.message,
                "tags": list(self.tags), "versioned_at": self.versioned_at.isoformat(),
                "snapshot_created_at": self.created_at.isoformat(), "trigger": self.trigger}


def _version(r: asyncpg.Record) -> Version:
    return Version(r["id"], r["session_id"], r["at_seq"], r["content_hash"], r["trigger"], r["created_at"],
                   r["message"], tuple(r["tags"]), r["versioned_at"])


async def mark_version(pool: asyncpg.Pool, tenant: str, session: str, snapshot_id: str, message: str,
                       tags: Sequence[str]) -> tuple[Version, bool] | None:
    """Make the snapshot a version; (version, newly a version), or None if the row is gone."""
    with wrap_errors("name a version"):
        row = await pool.fetchrow(_MARK, tenant, session, snapshot_id, message, list(tags), None)
    return None if row is None else (_version(row), not row["was_version"])


async def restore_version(pool: asyncpg.Pool, tenant: str, session: str, snap: SnapshotDraft,
                          compression: CompressionPolicy, message: str, tags: Sequence[str],
                          versioned_at: datetime) -> Version:
    """Store `snap` (or find the session's snapshot of the same state) and name it, keeping
    the version's original `versioned_at`; one transaction, so retention cannot take the
    snapshot before it is a version (an import recreating a bundle's versions)."""
    with wrap_errors("restore a version"):
        async with pool.acquire() as conn, conn.transaction():
            row, _ = await store.insert_snapshot(conn, tenant, session, snap, compression)
            named = await conn.fetchrow(_MARK, tenant, session, row.id, message, list(tags), versioned_at)
    return _version(named)


async def list_versions(pool: asyncpg.Pool, tenant: str, session: str, tag: str | None) -> list[Version]:
    """The session's versions, newest first; with `tag`, only those carrying it."""
    with wrap_errors("list versions"):
        rows = await pool.fetch(
            f"SELECT {_COLUMNS} FROM snapshot.snapshots WHERE tenant_id = $1 AND session_id = $2 "
            "AND message IS NOT NULL AND ($3::text IS NULL OR $3 = ANY(tags)) "
            "ORDER BY versioned_at DESC, id DESC", tenant, session, tag)
    return [_version(r) for r in rows]
