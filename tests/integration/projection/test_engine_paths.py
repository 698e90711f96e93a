"""The projection engine against PostgreSQL: the locked read decides whether a batch needs healing.

A batch whose events go on from each session's checkpoint is applied in one transaction
without asking ingest's log; a gap — at the front or inside a run, in any session of the
batch — sends the whole batch through healing first. Either way each event is applied
exactly once and the checkpoint ends at the last one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from lifeline_events import Event, parse_new_event
from lifeline_projection import Projection, SessionKey
from lifeline_store import create_pool
from lifeline_testing.builders import turn

A, B = SessionKey("default", "s-a"), SessionKey("default", "s-b")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _event(key: SessionKey, seq: int) -> Event:
    new = parse_new_event(turn(seq, f"turn {seq}"), session_id=key.session_id, tenant_id=key.tenant_id)
    return Event.from_new(new, seq=seq, recorded_at=T0 + timedelta(seconds=seq))


class Log:
    """ingest's log as the engine reads it to heal a gap: every event of each session."""

    def __init__(self, upto: int = 20) -> None:
        self.calls: list[tuple[str, int, int | None]] = []
        self.upto = upto

    async def events(self, tenant: str, session: str, *, after_seq: int = 0,
                     until_seq: int | None = None, page: int = 1000) -> list[Event]:
        self.calls.append((session, after_seq, until_seq))
        end = min(self.upto, until_seq if until_seq is not None else self.upto)
        return [_event(SessionKey(tenant, session), s) for s in range(after_seq + 1, end + 1)]


class Applied:
    """What `apply` was given, in order; can be told to fail once."""

    def __init__(self) -> None:
        self.seqs: dict[SessionKey, list[int]] = {}
        self.fail = False

    async def __call__(self, conn: asyncpg.Connection,
                       by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
        await conn.execute("SELECT 1")
        if self.fail:
            raise RuntimeError("apply fails inside the transaction")
        for key, events in by_session.items():
            self.seqs.setdefault(key, []).extend(e.seq for e in events)


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    opened = await create_pool(fresh_database)
    yield opened
    await opened.close()


@pytest.fixture
async def engine(pool: asyncpg.Pool) -> tuple[Projection, Applied, Log]:
    applied, log = Applied(), Log()
    projection = Projection(pool, schema="enginetest", name="enginetest", apply=applied, ingest=log)
    await projection.ensure_schema()
    return projection, applied, log


async def _deliver(projection: Projection, runs: dict[SessionKey, list[int]]) -> None:
    await projection.apply_events({key: [_event(key, s) for s in seqs] for key, seqs in runs.items()})


async def test_runs_that_go_on_from_their_checkpoints_never_ask_the_log(engine) -> None:
    projection, applied, log = engine
    await _deliver(projection, {A: [1, 2, 3], B: [1]})
    await _deliver(projection, {A: [2, 3, 4, 5], B: [1, 2]})  # partly redelivered
    await _deliver(projection, {A: [4, 5]})  # wholly redelivered: apply is not called for it
    assert applied.seqs == {A: [1, 2, 3, 4, 5], B: [1, 2]}
    assert log.calls == []
    assert (await projection.checkpoint(A), await projection.checkpoint(B)) == (5, 2)


@pytest.mark.parametrize("first, then", [
    ([1, 2], [5, 6]),        # a gap in front of the run
    ([1, 2], [3, 5, 6]),     # a gap inside the run
    ([], [2, 3]),            # a new session whose first event is missing
])
async def test_a_gap_is_healed_from_the_log_and_every_event_applied_once(engine, first, then) -> None:
    projection, applied, log = engine
    if first:
        await _deliver(projection, {A: first})
    await _deliver(projection, {A: then, B: [1, 2]})
    last = then[-1]
    assert applied.seqs[A] == list(range(1, last + 1))
    assert applied.seqs[B] == [1, 2]  # the gapless session of the same batch, once
    assert [c[0] for c in log.calls] == ["s-a"]
    assert await projection.checkpoint(A) == last


async def test_a_failed_apply_leaves_checkpoints_where_they_were(engine) -> None:
    projection, applied, log = engine
    await _deliver(projection, {A: [1, 2]})
    applied.fail = True
    with pytest.raises(Exception, match="apply fails"):
        await _deliver(projection, {A: [3, 4], B: [1]})
    assert (await projection.checkpoint(A), await projection.checkpoint(B)) == (2, 0)
    applied.fail = False
    await _deliver(projection, {A: [3, 4], B: [1]})
    assert applied.seqs == {A: [1, 2, 3, 4], B: [1]}
    assert log.calls == []
