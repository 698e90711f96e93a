"""governance starts, registers models and answers routing (a first end-to-end check)."""

from __future__ import annotations

from .helpers import client, register, start_stack, states, transition


async def test_register_and_route(fresh_database, redis_url, procs) -> None:
    """A registered model starts in SHADOW; promoted by hand it is what routing answers."""
    _, gov = start_stack(procs, fresh_database, redis_url)
    async with client(gov) as c:
        body = await register(c, "gpt-a", "pricing")
        assert body["placements"][0]["state"] == "SHADOW"
        assert (await transition(c, "gpt-a", "pricing", "CANDIDATE")).status_code == 200
        r = await transition(c, "gpt-a", "pricing", "PRIMARY")
        assert r.status_code == 200, r.text
        assert await states(c) == {"gpt-a": "PRIMARY"}
        route = (await c.get("/v1/routing/pricing")).json()
        assert route["model_id"] == "gpt-a" and route["matched"] == "pricing"
