"""Re-seal one session's digest from its stored observations and scalars (one transaction).

Used when a session finishes (inside the projection's batch), when an admin
suppresses evidence, and for on-demand provisional digests: the digest is always a
pure function of what is stored, so every path gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from prometheus_client import Counter

from lifeline_memory import store
from lifeline_memory.canonical import parse_iso
from lifeline_memory.digest import digest_hash, seal
from lifeline_memory.observe import Observation
from lifeline_memory.policy import Policy
from lifeline_memory.scalars import SessionScalars

TRUNCATED = Counter(
    "lifeline_memory_digest_truncated_total", "Sealed digests that dropped codes beyond a cap.", ["kind"]
)


async def reseal(
    conn: asyncpg.Connection,
    tenant: str,
    session: str,
    scalars: SessionScalars,
    policy: Policy,
    observations: Sequence[Observation] | None = None,
) -> dict[str, Any] | None:
    """Seal and store the digest; None (nothing stored) for a session without a person or turns.
    ``observations`` are read from the table unless the caller holds exactly that set."""
    person = scalars.person_id
    if person is None or (scalars.finished is None and scalars.last_at is None):
        return None
    if observations is None:
        observations = await store.load_observations(conn, tenant, session)
    suppressions = await store.load_suppressions(conn, tenant, person)
    digest = seal(session, observations, scalars, suppressions=suppressions, rules_hash=policy.rules_hash)
    for kind in digest["truncated"]:
        TRUNCATED.labels(kind).inc()
    await store.upsert_digest(
        conn, tenant, person, digest, digest_hash(digest), parse_iso(digest["finished_at"])
    )
    return digest
