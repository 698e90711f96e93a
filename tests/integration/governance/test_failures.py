"""Failure: decisions made while the bus is away are published once it is back (even after
a SIGKILL between commit and publish); two processes elect one job leader, and the other
takes over when the leader dies."""

from __future__ import annotations

from lifeline_events import TOPIC_LIFECYCLE, Event
from lifeline_testing.topics import read_topic
from lifeline_testing.tracestore import service_env
from lifeline_testing.waiting import eventually

from .helpers import FAST, client, register, run_tick, transition


async def test_decisions_made_without_a_bus_are_published_exactly_once_later(
    fresh_database, redis_url, procs, free_port
) -> None:
    """Bus unreachable: readiness degraded (not failed), routing answers, decisions recorded;
    SIGKILL, restart with the bus: every decision is on the lifecycle topic exactly once."""
    no_bus = f"redis://127.0.0.1:{free_port}/0"
    env = service_env(fresh_database, no_bus, **FAST)
    gov = procs.start("lifeline_governance", env)
    async with client(gov) as c:
        ready = (await c.get("/ready")).json()
        assert ready["status"] == "degraded" and "bus" in ready["degraded"]
        await register(c, "gpt-a", "pricing")
        await transition(c, "gpt-a", "pricing", "CANDIDATE")
        assert (await transition(c, "gpt-a", "pricing", "PRIMARY")).status_code == 200
        assert (await c.get("/v1/routing/pricing")).json()["model_id"] == "gpt-a"
        decisions = (await c.get("/v1/audit")).json()["decisions"]
        assert len(decisions) == 3 and all(d["announced_at"] is None for d in decisions)
        skipped = await run_tick(c)
        assert skipped["outcome"] == "skipped" and skipped["reason"].startswith("projection_lag")
        assert skipped["decisions"] == [], "no evidence can be trusted while the projection's lag is unknown"
    gov.kill()
    gov.env = service_env(fresh_database, redis_url, **FAST)
    gov.start()

    async def published() -> list[Event] | None:
        events = [Event.from_json(r.value) for r in await read_topic(redis_url, TOPIC_LIFECYCLE)]
        return events if len(events) >= 3 else None

    events = await eventually(published, timeout=30, what="the three decisions on the lifecycle topic")
    assert sorted(str(e.event_id) for e in events) == sorted(d["decision_id"] for d in decisions)
    assert [e.seq for e in events] == [1, 2, 3]
    assert {e.session_id for e in events} == {"gov:pricing"}


async def test_one_job_leader_and_takeover(fresh_database, redis_url, procs) -> None:
    """Two processes with a one-second tick: only one runs ticks; killing it hands the job over."""
    env = service_env(
        fresh_database,
        redis_url,
        **{**FAST, "governance_job_enabled": "true", "governance_interval_s": 1, "governance_window_s": 60},
    )
    first = procs.start("lifeline_governance", env)
    second = procs.start("lifeline_governance", env)

    def ticks(proc) -> int:  # type: ignore[no-untyped-def]
        return proc.log_path.read_text().count('"governance.tick"')

    await eventually(lambda: _async(ticks(first) + ticks(second) >= 3), timeout=30, what="three ticks")
    leaders = [p for p in (first, second) if ticks(p) > 0]
    assert len(leaders) == 1, "exactly one process runs the job"
    follower = second if leaders[0] is first else first
    before = ticks(follower)
    leaders[0].kill()
    await eventually(
        lambda: _async(ticks(follower) >= before + 2), timeout=30, what="the follower to take over"
    )


async def _async(value: bool) -> bool | None:
    return value or None


async def test_routing_answers_from_memory_while_postgresql_is_down(
    disposable_server, redis_url, procs
) -> None:
    """PostgreSQL down: /ready is 503 naming the database, routing still answers from the table;
    writes fail cleanly (503); back up, everything works again."""
    pg = disposable_server("postgres")
    env = service_env(pg.url, redis_url, **FAST)
    gov = procs.start("lifeline_governance", env)
    async with client(gov) as c:
        await register(c, "gpt-a", "pricing")
        await transition(c, "gpt-a", "pricing", "CANDIDATE")
        assert (await transition(c, "gpt-a", "pricing", "PRIMARY")).status_code == 200
        await pg.akill()
        ready = await c.get("/ready")
        assert ready.status_code == 503 and "database" in ready.json()["detail"]
        route = await c.get("/v1/routing/pricing")
        assert route.status_code == 200 and route.json()["model_id"] == "gpt-a"
        write = await transition(c, "gpt-a", "pricing", "QUARANTINED")
        assert write.status_code == 503
        await pg.arestart()

        async def back() -> bool | None:
            return (await c.get("/ready")).status_code == 200 or None

        await eventually(back, timeout=60, what="governance ready again")
        assert (await c.get("/v1/models/gpt-a")).json()["placements"][0]["state"] == "PRIMARY"
