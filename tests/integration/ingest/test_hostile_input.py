"""Input PostgreSQL cannot take is a 422 naming the field, and never costs a neighbour."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from lifeline_testing.builders import turn
from lifeline_testing.processes import auth

HUGE = str(2**64)


async def test_nul_extreme_time_and_huge_integers_are_named_422s(
        fresh_database, redis_url, start_ingest) -> None:
    """NUL text, an overflowing timestamp and integers past 64 bits are refused by name."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        await c.post("/v1/sessions/s1/events", json={"events": [turn(1)]})
        nul = await c.post("/v1/sessions/s1/events", json={"events": [turn(2, "a\u0000b")]})
        assert nul.status_code == 422
        assert [e["field"] for e in nul.json()["errors"]] == ["events.0.payload.text"]
        when = await c.post("/v1/sessions/s1/events", json={
            **turn(3), "occurred_at": "0001-01-01T00:00:00+14:00"})
        assert when.status_code == 422 and "occurred_at" in when.text
        for path in (f"/v1/sessions/s1/events?after_seq={HUGE}",
                     f"/v1/sessions/s1/wal?after_seq={HUGE}"):
            answer = await c.get(path)
            assert answer.status_code == 422 and "after_seq" in answer.text, path
        expected = await c.post("/v1/sessions/s1/events",
                                content=b'{"events": [' + orjson.dumps(turn(4)) + b'], "expected_seq": ' +
                                HUGE.encode() + b"}")
        assert expected.status_code == 422 and "expected_seq" in expected.text
        repair = await c.post("/v1/admin/wal/repair", json={"from_seq": 2**64, "session_id": "s1"})
        assert repair.status_code == 422 and "from_seq" in repair.text


async def test_a_bad_request_never_fails_its_concurrent_neighbours(
        fresh_database, redis_url, start_ingest) -> None:
    """Valid requests sent alongside NUL-carrying ones all succeed (issue 11: 5 of 120 did not)."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        async def send(i: int) -> httpx.Response:
            text = "bad \u0000" if i % 10 == 0 else f"fine {i}"
            return await c.post(f"/v1/sessions/s-{i}/events", json={"events": [turn(1, text)]})
        answers = await asyncio.gather(*(send(i) for i in range(120)))
    statuses = {i: a.status_code for i, a in enumerate(answers)}
    assert {i: s for i, s in statuses.items() if i % 10 == 0} == {i: 422 for i in range(0, 120, 10)}
    assert {s for i, s in statuses.items() if i % 10} == {200}
