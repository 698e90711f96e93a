"""A branch caught half-created, for tests of what ingest does before `session.branched`."""

from __future__ import annotations

import asyncpg


async def half_created_branch(database_url: str, parent: str, name: str, from_seq: int,
                              tenant: str = "default") -> str:
    """Write the rows `branch_store.create` leaves before the route appends the branch's
    `session.branched` (what a crash between the two steps leaves behind); return the
    branch's session id, `<parent>.<name>`."""
    branch = f"{parent}.{name}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO ingest.sessions (tenant_id, session_id, last_seq) "
                           "VALUES ($1, $2, $3)", tenant, branch, from_seq)
        await conn.execute("INSERT INTO ingest.branches (tenant_id, session_id, parent_session_id, "
                           "from_seq, name) VALUES ($1, $2, $3, $4, $5)",
                           tenant, branch, parent, from_seq, name)
    finally:
        await conn.close()
    return branch
