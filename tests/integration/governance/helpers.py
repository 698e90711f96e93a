"""Helpers for governance's integration tests: start the stack, drive calls, read answers."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from lifeline_events import TOPIC_EVENTS, Event, parse_new_event
from lifeline_testing.appends import append
from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth
from lifeline_testing.topics import produce_raw
from lifeline_testing.tracestore import Services, service_env
from lifeline_testing.waiting import eventually

FAST = {  # windows of an hour, every guard small, no cool-down: ticks are driven by the test
    "governance_job_enabled": "false",
    "governance_settle_s": 0,
    "governance_min_calls": 20,
    "governance_min_scored": 10,
    "governance_sustain_evaluations": 2,
    "governance_sustain_min_new_calls": 0,
    "governance_primary_cooldown_s": 0,
    "governance_quarantine_min_calls": 10,
    "governance_announce_interval_s": 0.5,
    "governance_routing_refresh_s": 0.5,
}


def start_stack(
    procs: Services, database_url: str, bus_url: str, **settings: Any
) -> tuple[ServiceProcess, ServiceProcess]:
    ingest = procs.ingest(database_url, bus_url)
    gov = procs.start(
        "lifeline_governance",
        service_env(database_url, bus_url, ingest_url=ingest.url, **{**FAST, **settings}),
    )
    return ingest, gov


def client(gov: ServiceProcess, key: str = TEST_API_KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=gov.url, headers=auth(key), timeout=30)


def calls(
    model: str,
    n: int,
    *,
    score: float,
    success: bool | list[bool] = True,
    intent: str = "pricing",
    first_turn: int = 1,
    via: str = "turn",
) -> list[dict[str, Any]]:
    """`n` model calls as ingest events: assistant turns, or `model.call.recorded`."""
    out = []
    for i in range(n):
        ok = success[i % len(success)] if isinstance(success, list) else success
        if via == "turn":
            out.append(
                {
                    "event_type": "turn.recorded",
                    "turn_id": first_turn + i,
                    "payload": {
                        "role": "assistant",
                        "text": "…",
                        "intent": intent,
                        "model_id": model,
                        "model_score": score,
                        "success": ok,
                        "latency_ms": 300,
                    },
                }
            )
        else:
            out.append(
                {
                    "event_type": "model.call.recorded",
                    "payload": {
                        "model_id": model,
                        "intent": intent,
                        "score": score,
                        "success": ok,
                        "latency_ms": 300,
                    },
                }
            )
    return out


async def send(ingest: ServiceProcess, session: str, events: list[dict[str, Any]]) -> None:
    """Append through ingest's public HTTP API, 200 events a request."""
    for start in range(0, len(events), 200):
        await append(ingest.url, session, events[start : start + 200])


async def log_at(bus_url: str, session: str, events: list[dict[str, Any]], recorded_at: datetime) -> None:
    """Put `events` on the log topic as ingest would have logged them (seq 1, 2, …) at
    `recorded_at`: windows placed in minutes of the test's choosing, not waited for."""
    logged = [Event.from_new(parse_new_event(raw, session_id=session, tenant_id="default"),
                             seq=seq, recorded_at=recorded_at).to_json_bytes()
              for seq, raw in enumerate(events, start=1)]
    await produce_raw(bus_url, TOPIC_EVENTS, [(session, value) for value in logged])


async def wait_calls(database_url: str, total: int, timeout: float = 60) -> None:
    """Until governance's buckets hold `total` calls (the projection caught up)."""

    async def probe() -> int | None:
        conn = await asyncpg.connect(database_url)
        try:
            n = await conn.fetchval("SELECT coalesce(sum(calls), 0) FROM governance.call_buckets")
        finally:
            await conn.close()
        return int(n) if int(n) >= total else None

    got = await eventually(probe, timeout=timeout, what=f"{total} calls in governance's buckets")
    assert got == total, f"{got} calls counted, expected exactly {total}"


async def run_tick(c: httpx.AsyncClient, tick: int | None = None, **body: Any) -> dict[str, Any]:
    tick = tick or int(time.time()) + 120  # the window then holds the current minute
    r = await c.post("/v1/admin/lifecycle/run", json={"tick": _iso(tick), **body})
    assert r.status_code == 200, r.text
    return r.json()


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def register(c: httpx.AsyncClient, model: str, *intents: str, **spec: Any) -> dict[str, Any]:
    r = await c.put(
        f"/v1/models/{model}", json={"display_name": model, "intents": {i: spec for i in intents}}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def transition(
    c: httpx.AsyncClient, model: str, intent: str, to_state: str, **body: Any
) -> httpx.Response:
    return await c.post(
        f"/v1/models/{model}/transition",
        json={"intent": intent, "to_state": to_state, "reason": "test", **body},
    )


async def states(c: httpx.AsyncClient, intent: str = "pricing") -> dict[str, str]:
    r = await c.get("/v1/models", params={"intent": intent})
    assert r.status_code == 200, r.text
    return {m["model_id"]: p["state"] for m in r.json()["models"] for p in m["placements"]}
