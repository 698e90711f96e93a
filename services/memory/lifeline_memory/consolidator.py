"""Recompute a person's profile under their row lock; a new version only when the hash changes.

``SELECT … FOR UPDATE`` on the person's row serialises replicas and concurrent
finishes of one person. Equal hash → only ``dirty_since`` is cleared: no version, no
event. A new version is also the outbox row of its ``profile.consolidated`` (the
``Announcer`` publishes it after the commit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg
from prometheus_client import Counter, Histogram

from lifeline_memory import store
from lifeline_memory.bias import render_bias
from lifeline_memory.policy import Policy
from lifeline_memory.profile import build_profile
from lifeline_store import wrap_errors

CONSOLIDATIONS = Counter(
    "lifeline_memory_consolidations_total", "Profile recomputations, by outcome.", ["reason", "outcome"]
)
VERSIONS = Counter("lifeline_memory_profile_versions_total", "New profile versions written.", ["reason"])
LATENCY = Histogram(
    "lifeline_memory_consolidation_seconds",
    "Time to recompute and store one profile.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://lifeline.dev/memory/profile.consolidated")


@dataclass(frozen=True)
class Outcome:
    person_id: str
    version: int
    content_hash: str | None
    changed: bool
    sessions_count: int
    source_session_id: str | None
    took_ms: float
    profile: dict[str, Any] | None = None

    def answer(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "version": self.version,
            "content_hash": self.content_hash,
            "changed": self.changed,
            "sessions_count": self.sessions_count,
            "source_session_id": self.source_session_id,
            "took_ms": round(self.took_ms, 3),
        }


def version_event_id(tenant: str, person: str, version: int, content_hash: str) -> UUID:
    """The dedup key of a version's ``profile.consolidated``: the same version, the same id."""
    return uuid5(EVENT_NAMESPACE, f"{tenant}|{person}|{version}|{content_hash}")


def summary_fields(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        k: profile[k]
        for k in (
            "top_errors",
            "top_strengths",
            "skill_tags",
            "compliance_flags",
            "summary",
            "sessions_count",
        )
    }


class Consolidator:
    def __init__(self, pool: asyncpg.Pool, policy: Policy, *, versions_keep: int) -> None:
        self._pool = pool
        self._policy = policy
        self._keep = versions_keep
        self._digests = store.DigestCache()

    @property
    def settings_hash(self) -> str:
        return self._policy.settings_hash

    async def consolidate(
        self,
        tenant: str,
        person: str,
        *,
        reason: str,
        source_session: str | None = None,
        source_seq: int | None = None,
        traceparent: str | None = None,
        dry_run: bool = False,
    ) -> Outcome:
        """Recompute from the stored digests; writes nothing with ``dry_run``."""
        started = time.perf_counter()
        with wrap_errors("consolidate"):
            async with self._pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    outcome = await self.consolidate_in(
                        conn,
                        tenant,
                        person,
                        reason=reason,
                        source_session=source_session,
                        source_seq=source_seq,
                        traceparent=traceparent,
                        started=started,
                    )
                except BaseException:
                    await tx.rollback()
                    raise
                if dry_run:
                    await tx.rollback()
                else:
                    await tx.commit()
        if not dry_run:
            CONSOLIDATIONS.labels(reason, "changed" if outcome.changed else "unchanged").inc()
            LATENCY.observe(time.perf_counter() - started)
        return outcome

    async def consolidate_in(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        person: str,
        *,
        reason: str,
        source_session: str | None = None,
        source_seq: int | None = None,
        traceparent: str | None = None,
        started: float | None = None,
    ) -> Outcome:
        """The same, inside the caller's transaction (forget and suppress use it)."""
        started = started if started is not None else time.perf_counter()
        row = await store.lock_person(conn, tenant, person)
        assert row is not None
        if reason == "session_finished" and row["dirty_since"] is not None and row["dirty_session"]:
            # the row names the latest finish committed; a caller's view may be older (a sweep)
            source_session, source_seq = row["dirty_session"], row["dirty_seq"]
            traceparent = row["dirty_traceparent"] or traceparent
        digests = await store.person_digests(conn, tenant, person, self._policy.max_sessions, self._digests)
        profile = build_profile(tenant, person, digests, self._policy)
        if profile is None or profile["content_hash"] == row["content_hash"]:
            if profile is None and row["content_hash"] is not None:
                await conn.execute(
                    "UPDATE memory.persons SET profile = NULL, bias = NULL, content_hash = NULL, "
                    "dirty_since = NULL WHERE tenant_id = $1 AND person_id = $2",
                    tenant,
                    person,
                )
            else:
                await conn.execute(
                    "UPDATE memory.persons SET dirty_since = NULL WHERE tenant_id = $1 AND person_id = $2",
                    tenant,
                    person,
                )
            return Outcome(
                person,
                row["version"],
                row["content_hash"] if profile else None,
                False,
                profile["sessions_count"] if profile else 0,
                source_session,
                (time.perf_counter() - started) * 1000,
                profile,
            )
        latest = profile["sessions"][0]
        if source_session is None or not any(s["session_id"] == source_session for s in profile["sessions"]):
            source_session = latest["session_id"]
            source_seq = next(d["through_seq"] for d in digests if d["session_id"] == source_session)
        version = row["version"] + 1
        bias = render_bias(profile, self._policy.max_bias_items)
        event_id = version_event_id(tenant, person, version, profile["content_hash"])
        await conn.execute(
            "INSERT INTO memory.profile_versions (tenant_id, person_id, version, content_hash, reason, "
            "source_session_id, source_seq, traceparent, summary, profile, event_id) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            tenant,
            person,
            version,
            profile["content_hash"],
            reason,
            source_session,
            source_seq or 1,
            traceparent,
            summary_fields(profile),
            profile,
            event_id,
        )
        await conn.execute(
            "UPDATE memory.persons SET version = $3, content_hash = $4, as_of = $5::text::timestamptz, "
            "profile = $6, bias = $7, dirty_since = NULL, consolidated_at = now() "
            "WHERE tenant_id = $1 AND person_id = $2",
            tenant,
            person,
            version,
            profile["content_hash"],
            profile["as_of"],
            profile,
            bias,
        )
        await conn.execute(
            "UPDATE memory.profile_versions SET profile = NULL WHERE tenant_id = $1 "
            "AND person_id = $2 AND version <= $3 AND profile IS NOT NULL",
            tenant,
            person,
            version - self._keep,
        )
        VERSIONS.labels(reason).inc()
        return Outcome(
            person,
            version,
            profile["content_hash"],
            True,
            profile["sessions_count"],
            source_session,
            (time.perf_counter() - started) * 1000,
            profile,
        )
