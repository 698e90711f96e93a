"""A bus batch of several sessions takes its snapshots in one statement, not one per snapshot.

The real projection engine in process on PostgreSQL (and a Redis bus for the
announcements): every session's due snapshots are stored exactly as one insert per
snapshot stored them (compressed or not, the fold's state at their seq), count
retention keeps each session's newest, a redelivered batch stores nothing twice, and
everything stored is announced after the commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from lifeline_bus import create_bus
from lifeline_events import Event, canonical_json, fold, parse_new_event
from lifeline_projection import Projection, SessionKey
from lifeline_snapshot import store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.projector import SnapshotFold
from lifeline_store.compression import CompressionPolicy
from lifeline_testing.builders import turn

STARTED = datetime.now(UTC).replace(microsecond=0)
EVERY, KEEP = 2, 3


def _events(key: SessionKey, first: int, last: int, text: str) -> list[Event]:
    events = []
    for seq in range(first, last + 1):
        new = parse_new_event(turn(seq, f"{text} {seq}", acts=[{"op": "confirm_fact", "key": f"k{seq}",
                                                                 "value": seq}]),
                              session_id=key.session_id, tenant_id=key.tenant_id)
        events.append(Event.from_new(new, seq=seq, recorded_at=STARTED + timedelta(milliseconds=seq)))
    return events


async def test_a_batch_of_sessions_stores_retains_and_announces_every_due_snapshot(
        pool: asyncpg.Pool, redis_url: str) -> None:
    announcer = Announcer(pool, create_bus(redis_url, consumer="unused"))
    # a low threshold: the long turns' states are stored compressed, the short ones' as jsonb
    snapshots = SnapshotFold(announcer, every=EVERY, keep=KEEP,
                             compression=CompressionPolicy("zstd", min_bytes=1500))
    projection = Projection(pool, schema="snapshot", name="snapshot", apply=snapshots.apply,
                            after_commit=snapshots.after_commit)
    keys = [SessionKey("tenant-a", "long"), SessionKey("tenant-a", "short"), SessionKey("tenant-b", "long")]
    texts = {keys[0]: "veneers at 4,000 euros " * 20, keys[1]: "hi", keys[2]: "crowns " * 60}
    lasts = {keys[0]: 9, keys[1]: 4, keys[2]: 1}  # 4 due snapshots, 2, none
    events = {k: _events(k, 1, lasts[k], texts[k]) for k in keys}

    await projection.apply_events({k: events[k][:-1] for k in keys if len(events[k]) > 1})
    await projection.apply_events({k: events[k] for k in keys})  # the rest, plus a redelivery

    for key in keys:
        rows = await store.snapshots_with_state(pool, key.tenant_id, key.session_id)
        due = [s for s in range(1, lasts[key] + 1) if s % EVERY == 0]
        assert [r.at_seq for r in rows] == due[-KEEP:], key
        for row in rows:
            assert row.trigger == "periodic"
            assert row.state == orjson.loads(canonical_json(fold(events[key][:row.at_seq])))
    blobs = await pool.fetch("SELECT session_id, compression FROM snapshot.snapshots ORDER BY 1")
    assert {r["session_id"]: r["compression"] for r in blobs} == {"long": "zstd", "short": "none"}

    assert await store.unannounced(pool) == []  # every stored snapshot announced after its commit
