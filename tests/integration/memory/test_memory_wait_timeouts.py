"""memory's `?after_session=` wait that runs out is a 504, as in replay, trace-store and governance."""

from __future__ import annotations

from lifeline_testing.appends import append

from .helpers import coach_session, get, start_memory


async def test_a_wait_that_runs_out_is_504_and_an_unknown_person_404(
        fresh_database, redis_url, procs) -> None:
    """A session never consolidated: 504 problem+json with the current version, after the wait;
    a person without a profile: 404, not a time-out."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest, memory_read_wait_ms="300")
    await append(ingest.url, "s-1", coach_session("p-w", 0, ["late"]))
    assert (await get(memory.url, "/v1/persons/p-w/profile", after_session="s-1")).status_code == 200
    waited = await get(memory.url, "/v1/persons/p-w/profile", after_session="s-never")
    assert waited.status_code == 504, waited.text
    assert waited.headers["content-type"] == "application/problem+json"
    assert waited.json()["version"] >= 1 and "s-never" in waited.json()["detail"]
    nobody = await get(memory.url, "/v1/persons/p-nobody/profile", after_session="s-never")
    assert nobody.status_code == 404, nobody.text
