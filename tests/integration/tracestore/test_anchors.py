"""Contexts stored on anchor rows only: every read API still answers the fold's exact context.

The projection runs in this process (so batches, a rolled-back batch and a redelivery are
exactly what the test says) against real PostgreSQL, with LIFELINE_TRACE_CONTEXT_EVERY =
1, 4 and 16 on three copies of one session; a trace-store process on the same database
answers the reads. The K=1 copy stores every context (as before anchors): the other two
must read back the very same contexts, also after retention drops the older day, trims
the boundary day mid-chain, and a single trace is deleted. A run's first row chains back
to the row before it only when that row is stored in its day, also when a delete of it
is in progress while the run is stored.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from lifeline_events import Event, canonical_json, fold, parse_new_event
from lifeline_projection import Projection, SessionKey
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_tracestore import session_states
from lifeline_tracestore import store as trace_store
from lifeline_tracestore.contexts import keep_chains, with_contexts
from lifeline_tracestore.domain import day_of, day_start
from lifeline_tracestore.freshness import Freshness
from lifeline_tracestore.partitions import Partitions
from lifeline_tracestore.projector import TraceFold

N = 40
EVERY = (1, 4, 16)
PERSON = "p-a"
# Seq 1..19 are recorded late the day before yesterday, 20.. yesterday (20 is the first of
# the later day); the reader's own retention (3650 days) never touches them.
MIDNIGHT = day_start(day_of(datetime.now(UTC)) - timedelta(days=1))


def _recorded(seq: int) -> datetime:
    return MIDNIGHT + timedelta(seconds=5 * (seq - 20))


def _events(session: str, n: int = N, *, whole_redaction_at: int | None = None) -> list[Event]:
    events = []
    for seq in range(1, n + 1):
        acts: list[dict[str, Any]] = []
        if seq % 3:
            acts = [{"op": "confirm_fact", "key": f"k{seq}", "value": seq}]
        if seq == whole_redaction_at:  # its redacted form is too long for the field: redacted after the fold
            acts = [{"op": "set_stage", "stage": " ".join(["a@b.co"] * 9)}]
        raw = turn(seq, f"turn {seq}: veneers, mail ann{seq}@example.com", person_id=PERSON, acts=acts)
        new = parse_new_event(raw, session_id=session, tenant_id="default")
        events.append(Event.from_new(new, seq=seq, recorded_at=_recorded(seq)))
    return events


def _projection(pool: asyncpg.Pool, partitions: Partitions, every: int) -> Projection:
    fold_ = TraceFold(partitions, Freshness(pool, max_wait_ms=10), context_every=every)
    return Projection(pool, schema="traces", name="tracestore", apply=fold_.apply,
                      after_commit=fold_.after_commit)


async def _deliver(pool: asyncpg.Pool, partitions: Partitions, every: int, session: str,
                   events: Sequence[Event], cuts: Sequence[int] = (11, 18, N)) -> None:
    """Batches of one replica: a batch that rolls back (its day partition vanished) and is retried,
    a redelivery of everything so far, and runs that span anchors and the day boundary."""
    projection = _projection(pool, partitions, every)
    key = SessionKey("default", session)

    async def deliver(part: Sequence[Event]) -> None:
        await projection.apply_events({key: list(part)})

    days = {day_of(e.recorded_at) for e in events}
    await partitions.ensure(days)
    await deliver(events[0:5])
    partitions.forget(days)  # as if another replica had dropped the days: the batch rolls back
    with pytest.raises(Exception, match="no trace partition"):
        await deliver(events[5:11])
    await partitions.ensure(days)
    await deliver(events[5:11])
    await deliver(events[0:11])  # a redelivery: nothing new
    for start, end in itertools.pairwise(cuts):
        await deliver(events[start:end])  # the last: across midnight (seq 20) and anchors


async def _db_contexts(pool: asyncpg.Pool, session: str) -> dict[int, Any]:
    rows = await pool.fetch("SELECT seq, context_snapshot FROM traces.event_traces WHERE session_id = $1 "
                            "ORDER BY seq", session)
    return {r["seq"]: r["context_snapshot"] for r in rows}


async def _api_contexts(c: httpx.AsyncClient, session: str, *, whole_log: bool) -> list[dict[int, Any]]:
    """seq → context as each read API answers it (one dict per API); with `whole_log` also
    POST /replay's trace and its re-fold from seq 1 (which needs every stored event)."""
    listed = (await c.get(f"/replay/session/{PERSON}/{session}", params={"limit": 1000})).json()
    answers: list[dict[int, Any]] = [{t["event_data"]["seq"]: t["context_snapshot"] for t in listed}]
    one, replayed, state = {}, {}, {}
    for t in listed:
        seq = t["event_data"]["seq"]
        got = await c.get(f"/replay/{t['trace_id']}")
        assert got.status_code == 200, got.text
        one[seq] = got.json()["context_snapshot"]
        if whole_log:
            r = (await c.post(f"/replay/{t['trace_id']}", json={"include_context": True})).json()
            replayed[seq], state[seq] = r["trace"]["context_snapshot"], r["replay_result"]["context_state"]
    answers += [one, replayed, state] if whole_log else [one]
    streamed: dict[int, Any] = {}
    async with c.stream("POST", f"/replay/session/{PERSON}/{session}/stream",
                        params={"time_scale": 0}) as s:
        body = (await s.aread()).decode()
    for block in body.split("\n\n"):
        if block.startswith("event: trace"):
            t = orjson.loads(block.split("data: ", 1)[1])
            streamed[t["event_data"]["seq"]] = t["context_snapshot"]
    answers.append(streamed)
    paged: dict[int, Any] = {}
    for offset in range(0, 3 * N, 7):  # pages of 7: each page rebuilds across sessions at once
        page = (await c.get(f"/replay/person/{PERSON}", params={"offset": offset, "limit": 7})).json()
        paged.update({t["event_data"]["seq"]: t["context_snapshot"]
                      for t in page["traces"] if t["session_id"] == session})
    answers.append(paged)
    return answers


async def test_every_read_api_answers_the_full_folds_context(pool: asyncpg.Pool, fresh_database: str,
                                                             redis_url: str, procs) -> None:
    """K=4 and K=16 store anchors only, yet each API's context per row is the K=1 (every row) one,
    before and after retention drops the older day, trims the boundary day and deletes a trace."""
    partitions = Partitions(pool)
    for every in EVERY:
        await _deliver(pool, partitions, every, f"s-k{every}", _events(f"s-k{every}"))
    full = await _db_contexts(pool, "s-k1")
    redacted = [Event.from_json(e.to_json_bytes().replace(f"ann{e.seq}@example.com".encode(),
                                                          b"[redacted:email]")) for e in _events("s-k1")]
    assert [full[q] for q in range(1, N + 1)] == [orjson.loads(canonical_json(fold(redacted[:q])))
                                                  for q in range(1, N + 1)]
    # anchors: every K-th seq, the first of the later day, and seq 1 (nothing before it); the
    # other runs' first rows (6, 12, 19) chain back to the row before them, stored in their day
    for every in EVERY[1:]:
        stored = {q for q, v in (await _db_contexts(pool, f"s-k{every}")).items() if v is not None}
        assert stored == {1, 20} | set(range(every, N + 1, every)), f"K={every}"
        key = ("default", f"s-k{every}")
        state = (await session_states.load_sessions(pool, [key]))[key]
        assert {**state, "session_id": "?"} == {**full[N], "session_id": "?"}
    # renamed copies of the K=1 contexts (only session_id differs)
    store = procs.tracestore(fresh_database, redis_url, trace_retention_days=3650)
    async with httpx.AsyncClient(base_url=store.url, headers=auth(), timeout=30) as c:
        expected = {q: {**v, "session_id": "?"} for q, v in full.items()}
        await _check_session_agnostic(c, expected, list(range(1, N + 1)), whole_log=True)
        # the older day goes as a whole partition: seq 20.. stay, all readable
        report = await partitions.cleanup(30, now=MIDNIGHT + timedelta(days=30))
        assert report.dropped_traces == 3 * 19 and report.deleted_traces == 0
        await _check_session_agnostic(c, expected, list(range(20, N + 1)))
        # the boundary day trimmed mid-chain: seq 27 (no anchor for K=4/16) loses 20..26
        trimmed = await partitions.cleanup(30, now=_recorded(27) - timedelta(seconds=1) + timedelta(days=30))
        assert trimmed.deleted_traces == 3 * 7
        await _check_session_agnostic(c, expected, list(range(27, N + 1)))
        # one trace deleted in the middle of a chain (seq 29; 30, 31 have no context for K=16)
        for every in EVERY:
            trace_id = await pool.fetchval("SELECT trace_id FROM traces.event_traces WHERE session_id = $1 "
                                           "AND seq = 29", f"s-k{every}")
            assert (await c.delete(f"/replay/{trace_id}")).status_code == 200
        await _check_session_agnostic(c, expected, [q for q in range(27, N + 1) if q != 29])


async def _check_session_agnostic(c: httpx.AsyncClient, expected: dict[int, Any], seqs: list[int], *,
                                  whole_log: bool = False) -> None:
    """Each API's context of each of `seqs` in the K=4 and K=16 copies is the K=1 copy's
    (compared with their session ids set aside: the copies are different sessions)."""
    for every in EVERY[1:]:
        for n, api in enumerate(await _api_contexts(c, f"s-k{every}", whole_log=whole_log)):
            assert sorted(api) == seqs, f"K={every} api #{n}"
            for seq in seqs:
                assert api[seq] is not None, f"K={every} api #{n} seq {seq}: no context"
                assert {**api[seq], "session_id": "?"} == expected[seq], f"K={every} api #{n} seq {seq}"


async def test_contexts_redacted_after_the_fold_are_all_stored(pool: asyncpg.Pool) -> None:
    """A run with an event whose redacted form does not validate has its contexts redacted whole
    after the fold: re-folding the stored events would not give them, so every row keeps its own."""
    partitions = Partitions(pool)
    events = _events("s-whole", 12, whole_redaction_at=6)
    await _deliver(pool, partitions, 4, "s-whole", events, cuts=(11, 12))
    contexts = await _db_contexts(pool, "s-whole")
    # the run of seq 6..11 holds that event: every row of it stores its context
    assert all(contexts[q] is not None for q in range(6, 12)), contexts
    assert "a@b.co" not in orjson.dumps(list(contexts.values())).decode()


async def _delete_trace(conn: asyncpg.Connection, session: str, seq: int) -> None:
    """What `DELETE /replay/{trace_id}` does, on `conn` (the caller's transaction)."""
    trace_id = await conn.fetchval("SELECT trace_id FROM traces.event_traces WHERE session_id = $1 "
                                   "AND seq = $2", session, seq)
    await keep_chains(conn, "traces.event_traces", "{t}.trace_id = $1 AND {t}.tenant_id = $2",
                      trace_id, "default")
    assert await trace_store.delete_trace(conn, "default", trace_id)


async def test_a_runs_first_row_keeps_its_context_when_the_row_before_is_gone_or_on_another_day(
        pool: asyncpg.Pool) -> None:
    """K=16. Seq 5 deleted before 6.. arrive: 6 stores its context. 20 starts a run on the day
    after 19: it stores its own. 23 follows 22: it does not. Seq 24 deleted in a transaction
    still open while 25.. are stored: the batch waits for the delete, then 25 stores its own.
    Every row reads back the fold's context."""
    session, partitions = "s-gone", Partitions(pool)
    events = _events(session, 26)
    await partitions.ensure({day_of(e.recorded_at) for e in events})
    projection = _projection(pool, partitions, 16)
    key = SessionKey("default", session)

    async def deliver(first: int, last: int) -> None:
        await projection.apply_events({key: events[first - 1:last]})

    await deliver(1, 5)
    async with pool.acquire() as conn, conn.transaction():
        await _delete_trace(conn, session, 5)
    for first, last in ((6, 19), (20, 22), (23, 24)):
        await deliver(first, last)
    async with pool.acquire() as conn:
        deleting = conn.transaction()
        await deleting.start()
        await _delete_trace(conn, session, 24)
        stored = asyncio.create_task(deliver(25, 26))
        while not await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                      "AND NOT granted"):
            assert not stored.done(), stored  # it must wait for the delete's lock
            await asyncio.sleep(0.01)
        await deleting.commit()
    await stored
    contexts = await _db_contexts(pool, session)
    assert sorted(contexts) == [q for q in range(1, 27) if q not in (5, 24)]
    assert {q for q, v in contexts.items() if v is not None} == {1, 6, 16, 20, 25}
    rows = await pool.fetch("SELECT trace_id, ts, session_id, seq, context_snapshot FROM traces.event_traces "
                            "WHERE session_id = $1 ORDER BY seq", session)
    redacted = [Event.from_json(e.to_json_bytes().replace(f"ann{e.seq}@example.com".encode(),
                                                          b"[redacted:email]")) for e in events]
    for row in await with_contexts(pool, "default", rows):
        seq = row["seq"]
        assert row["context_snapshot"] == orjson.loads(canonical_json(fold(redacted[:seq]))), seq
