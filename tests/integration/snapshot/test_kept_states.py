"""snapshot's state kept in memory between batches never changes a stored state.

`SnapshotFold` keeps the state each session was last committed at and skips reading it
back when the next run follows it directly; these tests drive the real projection engine
in process against PostgreSQL: two replicas taking turns on one session, a batch that
rolls back after the fold, and a checkpoint put back behind the kept state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from lifeline_bus import create_bus
from lifeline_events import Event, canonical_json, fold, parse_new_event
from lifeline_projection import Projection, SessionKey
from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.projector import SnapshotFold
from lifeline_store.compression import CompressionPolicy
from lifeline_testing.builders import turn

KEY = SessionKey("default", "s-kept")
STARTED = datetime.now(UTC).replace(microsecond=0)


class Boom(Exception):
    """Raised inside the projection's transaction after the fold."""


def _events(n: int) -> list[Event]:
    events = []
    for seq in range(1, n + 1):
        acts = [{"op": "confirm_fact", "key": f"k{seq}", "value": seq}] if seq % 2 else []
        new = parse_new_event(turn(seq, f"turn {seq}: veneers at 4,000 euros", acts=acts),
                              session_id=KEY.session_id, tenant_id=KEY.tenant_id)
        events.append(Event.from_new(new, seq=seq, recorded_at=STARTED + timedelta(milliseconds=seq)))
    return events


class Replica:
    """One snapshot process's projection (its own SnapshotFold and kept states)."""

    def __init__(self, pool: asyncpg.Pool, announcer: Announcer) -> None:
        # snapshots every 1,000 events: none are taken, so nothing is announced
        self.fold = SnapshotFold(announcer, every=1000, keep=5, compression=CompressionPolicy())
        self.fail_after_fold = False
        self.projection = Projection(pool, schema="snapshot", name="snapshot", apply=self._apply,
                                     after_commit=self.fold.after_commit)

    async def _apply(self, conn: asyncpg.Connection, by_session: dict) -> None:
        await self.fold.apply(conn, by_session)
        if self.fail_after_fold:
            raise Boom("the transaction fails after the fold")

    async def deliver(self, events: Sequence[Event]) -> None:
        await self.projection.apply_events({KEY: list(events)})


@pytest.fixture
def announcer(pool: asyncpg.Pool, redis_url: str) -> Announcer:
    return Announcer(pool, create_bus(redis_url, consumer="unused"))


async def _stored(pool: asyncpg.Pool) -> tuple[int, object]:
    seq = await pool.fetchval("SELECT seq FROM snapshot.session_state WHERE session_id = $1", KEY.session_id)
    return seq, await store.load_state(pool, KEY.tenant_id, KEY.session_id)


def _expected(events: Sequence[Event]) -> tuple[int, object]:
    return events[-1].seq, orjson.loads(canonical_json(fold(events)))


async def test_replicas_taking_turns_store_the_folds_state(pool: asyncpg.Pool, announcer: Announcer) -> None:
    """A replica whose kept state is behind the checkpoint reads the stored one."""
    a, b = Replica(pool, announcer), Replica(pool, announcer)
    events = _events(9)
    await a.deliver(events[0:3])
    await b.deliver(events[3:6])  # a's kept state (seq 3) is now behind the checkpoint
    await a.deliver(events[6:8])  # read back from snapshot.session_state
    assert await _stored(pool) == _expected(events[:8])
    stored = await pool.fetchrow("SELECT compression, state IS NULL AS blob_only FROM snapshot.session_state "
                                 "WHERE session_id = $1", KEY.session_id)
    assert (stored["compression"], stored["blob_only"]) == ("zstd", True)  # compressed by snapshot
    await a.deliver(events[8:9])  # from a's kept state
    await b.deliver(events[:9])  # a redelivery: nothing new
    assert await _stored(pool) == _expected(events)


async def test_a_rolled_back_batch_keeps_nothing(pool: asyncpg.Pool, announcer: Announcer) -> None:
    """A batch that fails after its fold leaves the kept state where the commit was."""
    replica = Replica(pool, announcer)
    events = _events(6)
    await replica.deliver(events[0:3])
    replica.fail_after_fold = True
    with pytest.raises(Exception, match="after the fold"):
        await replica.deliver(events[3:5])
    assert await _stored(pool) == _expected(events[:3])
    replica.fail_after_fold = False
    await replica.deliver(events[3:5])
    await replica.deliver(events[5:6])
    assert await _stored(pool) == _expected(events)


async def test_a_checkpoint_put_back_is_refolded_from_the_stored_state(
        pool: asyncpg.Pool, announcer: Announcer) -> None:
    """The checkpoint and stored state moved back behind the kept state (an operator's
    rollback): the next run folds on the stored state, not the kept one."""
    replica = Replica(pool, announcer)
    events = _events(6)
    await replica.deliver(events[0:5])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE snapshot.checkpoints SET last_seq = 2 WHERE session_id = $1",
                           KEY.session_id)
        await store.save_states(conn, [(KEY.tenant_id, KEY.session_id, 2, canonical_json(fold(events[:2])))],
                                CompressionPolicy())
    await replica.deliver(events[2:6])
    assert await _stored(pool) == _expected(events)
