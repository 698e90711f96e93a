"""The fold's state kept in memory between batches never changes a stored context.

trace-store keeps the state it last folded each session to and skips reading it back
when the next run follows it directly; these tests drive the real projection engine in
process against PostgreSQL, with two replicas taking turns on one session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from lifeline_events import Event, canonical_json, fold, parse_new_event
from lifeline_projection import Projection, SessionKey
from lifeline_testing.builders import turn
from lifeline_tracestore.contexts import with_contexts
from lifeline_tracestore.domain import day_of
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import TraceFold

KEY = SessionKey("default", "s-kept")
STARTED = datetime.now(UTC).replace(microsecond=0)


def _events(n: int) -> list[Event]:
    events = []
    for seq in range(1, n + 1):
        acts = [{"op": "confirm_fact", "key": f"k{seq}", "value": seq}] if seq % 2 else []
        raw = turn(seq, f"turn {seq}: veneers, write to me at ann{seq}@example.com", person_id="p-7",
                   acts=acts)
        new = parse_new_event(raw, session_id=KEY.session_id, tenant_id=KEY.tenant_id)
        events.append(Event.from_new(new, seq=seq, recorded_at=STARTED + timedelta(milliseconds=seq)))
    return events


class Replica:
    """One trace-store process's projection (its own TraceFold and kept states)."""

    def __init__(self, pool: asyncpg.Pool, partitions: Partitions) -> None:
        self.fold = TraceFold(partitions, Freshness(pool, max_wait_ms=10))
        self.projection = Projection(pool, schema="traces", name="tracestore", apply=self.fold.apply,
                                     after_commit=self.fold.after_commit)

    async def deliver(self, events: Sequence[Event]) -> None:
        await self.projection.apply_events({KEY: list(events)})


async def _contexts(pool: asyncpg.Pool) -> list[object]:
    """Every row's context as the read APIs answer it: stored on anchors, rebuilt on the others."""
    rows = await pool.fetch("SELECT trace_id, ts, session_id, seq, context_snapshot FROM traces.event_traces "
                            "WHERE session_id = $1 ORDER BY seq", KEY.session_id)
    return [r["context_snapshot"] for r in await with_contexts(pool, KEY.tenant_id, rows)]


def _expected(events: Sequence[Event], redact: bool) -> list[object]:
    """The context after each event: the fold of the (redacted) events up to it."""
    if redact:
        events = [Event.from_json(e.to_json_bytes().replace(
            f"ann{e.seq}@example.com".encode(), b"[redacted:email]")) for e in events]
    return [orjson.loads(canonical_json(fold(events[: i + 1]))) for i in range(len(events))]


async def test_replicas_taking_turns_store_the_folds_context(pool: asyncpg.Pool) -> None:
    """A replica whose kept state is behind the checkpoint reads the stored one; contexts are the fold's."""
    partitions = Partitions(pool)
    await partitions.ensure({day_of(STARTED)})
    a, b = Replica(pool, partitions), Replica(pool, partitions)
    events = _events(9)
    await a.deliver(events[0:3])
    await b.deliver(events[3:6])  # a's kept state (seq 3) is now behind
    stored = await pool.fetchrow("SELECT compression, state IS NULL AS blob_only FROM traces.sessions")
    assert (stored["compression"], stored["blob_only"]) == ("zstd", True)  # compressed by trace-store
    await a.deliver(events[6:8])  # read back from traces.sessions (decompressed)
    await a.deliver(events[8:9])  # from a's kept state
    await b.deliver(events[:9])  # a redelivery: nothing new
    assert await _contexts(pool) == _expected(events, redact=True)


async def test_a_rolled_back_batch_leaves_the_contexts_exact(pool: asyncpg.Pool) -> None:
    """A batch that fails after the fold (its day has no partition) keeps nothing wrong: the retry and
    the next batch store the fold's contexts."""
    partitions = Partitions(pool)
    replica = Replica(pool, partitions)
    events = _events(6)
    await partitions.ensure({day_of(STARTED)})
    await replica.deliver(events[0:3])
    partitions.forget({day_of(STARTED)})  # as if another replica's cleanup had dropped the day
    with pytest.raises(Exception, match="no trace partition"):
        await replica.deliver(events[3:5])
    await partitions.ensure({day_of(STARTED)})
    await replica.deliver(events[3:5])
    await replica.deliver(events[5:6])
    assert await _contexts(pool) == _expected(events, redact=True)
