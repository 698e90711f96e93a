"""A `?min_seq=` wait that runs out answers 504, as in every service (issue 11, defect 6)."""

from __future__ import annotations

from .helpers import client, register, start_stack


async def test_routing_min_seq_past_the_table_is_a_504(fresh_database, redis_url, procs) -> None:
    """The routing table never reaches min_seq 10**9: 504 naming it, not a stale answer."""
    _, gov = start_stack(procs, fresh_database, redis_url)
    async with client(gov) as c:
        await register(c, "gpt-a", "pricing")
        waited = await c.get("/v1/routing/pricing", params={"min_seq": 10**9})
        assert waited.status_code == 504 and waited.json()["min_seq"] == 10**9
