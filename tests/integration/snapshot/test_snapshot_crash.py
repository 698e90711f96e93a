"""SIGKILL the snapshot service while a session is being written: after a restart its state
converges to the fold of ingest's log, and no snapshot is taken twice. On both buses."""

from __future__ import annotations

import asyncio
from collections import Counter

from lifeline_events import TOPIC_LIFECYCLE, Event, canonical_json, content_hash, fold
from lifeline_testing.appends import append
from lifeline_testing.oracle import fold_of_log, log_of
from lifeline_testing.snapshot_stack import projected_state, snapshot_rows
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually

SESSION = "crash-1"
BATCHES, PER_BATCH = 40, 3


def batch(i: int) -> list[dict]:
    return [{"event_type": "turn.recorded", "turn_id": i * PER_BATCH + j, "person_id": "p-1",
             "payload": {"role": "user", "text": f"turn {i}.{j}",
                         "acts": [{"op": "confirm_fact", "key": f"k{j}", "value": i},
                                  {"op": "pin", "id": f"p{i % 3}", "text": f"pin {i}"}]}}
            for j in range(PER_BATCH)]


async def write_session(ingest_url: str, halfway: asyncio.Event, done: asyncio.Event) -> None:
    for i in range(BATCHES):
        await append(ingest_url, SESSION, batch(i))
        if i == BATCHES // 4:
            halfway.set()
        await asyncio.sleep(0.02)
    done.set()


async def test_killed_snapshot_service_converges_without_duplicates(
        fresh_database: str, bus_url: str, start_stacks) -> None:
    """SIGKILL mid-stream, restart: state = fold(ingest log), one snapshot per 5th seq, all announced."""
    stack = await start_stacks(fresh_database, bus_url, snapshot_keep="1000")
    halfway, done = asyncio.Event(), asyncio.Event()
    writer = asyncio.create_task(write_session(stack.ingest.url, halfway, done))
    await halfway.wait()
    await asyncio.to_thread(stack.snapshot.kill)
    assert not done.is_set(), "the kill must land while the session is being written"
    await asyncio.sleep(0.3)  # the writer keeps going while snapshot is down
    await asyncio.to_thread(stack.snapshot.start, timeout=90)  # a Kafka group may take a while to rejoin
    await writer

    async def converged() -> bool:
        have = await projected_state(fresh_database, SESSION)
        return have is not None and canonical_json(have) == canonical_json(
            await fold_of_log(stack.ingest.url, SESSION))

    await eventually(converged, timeout=60, what="snapshot's state = fold of ingest's log after restart")
    log = await log_of(stack.ingest.url, SESSION)
    rows = await snapshot_rows(fresh_database, SESSION)
    assert [r["at_seq"] for r in rows] == list(range(5, len(log) + 1, 5))
    assert [r["content_hash"] for r in rows] == [content_hash(fold(log[: r["at_seq"]])) for r in rows]

    async def announced() -> bool:
        records = await read_topic(stack.bus_url, TOPIC_LIFECYCLE)
        seen = Counter(str(Event.from_json(r.value).event_id) for r in records)
        return set(seen) >= {r["id"] for r in rows}

    await eventually(announced, timeout=30, what="every snapshot announced at least once")

