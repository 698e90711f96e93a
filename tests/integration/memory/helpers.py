"""Building memory's inputs in the wire form, starting memory, and the oracle over ingest's log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from lifeline_memory.bias import render_bias
from lifeline_memory.consolidation import profile_of_logs
from lifeline_memory.policy import Policy
from lifeline_testing.oracle import log_of
from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth
from lifeline_testing.tracestore import Services, service_env

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
POLICY = Policy()
VOLATILE = ("version", "consolidated_at")


def at(day: int, minute: int = 0) -> str:
    return (T0 + timedelta(days=day, minutes=minute)).isoformat()


def turn(
    turn_id: int,
    person: str,
    day: int,
    *,
    role: str = "user",
    text: str = "hello",
    intent: str | None = "pricing",
    acts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"role": role, "text": text, "acts": acts or []}
    if intent:
        payload["intent"] = intent
    return {
        "event_type": "turn.recorded",
        "turn_id": turn_id,
        "person_id": person,
        "occurred_at": at(day, turn_id),
        "payload": payload,
    }


def grade(turn_id: int, person: str, day: int, **payload: Any) -> dict[str, Any]:
    return {
        "event_type": "turn.evaluated",
        "person_id": person,
        "occurred_at": at(day, turn_id),
        "payload": {"turn_id": turn_id, **payload},
    }


def finished(person: str, day: int) -> dict[str, Any]:
    return {
        "event_type": "session.finished",
        "person_id": person,
        "occurred_at": at(day, 59),
        "payload": {"reason": "completed"},
    }


def coach_session(
    person: str,
    day: int,
    errors: list[str],
    *,
    strength: str = "rapport",
    guarantee: bool = False,
    contact: str | None = None,
) -> list[dict[str, Any]]:
    """A user/assistant exchange per error code, graded, with a flag and facts where asked."""
    events: list[dict[str, Any]] = []
    tid = 0
    for code in errors:
        tid += 1
        events.append(turn(tid, person, day, text="it's guaranteed, right?" if guarantee else "how much?"))
        tid += 1
        acts = [{"op": "error", "code": code}, {"op": "strength", "code": strength}]
        if contact:
            acts.append({"op": "confirm_fact", "key": "preferred_contact", "value": contact})
        events.append(turn(tid, person, day, role="assistant", text="let me see", acts=acts))
        events.append(grade(tid, person, day, grader="coach", errors=[code], skill_tags=["discovery"]))
    events.append(turn(tid + 1, person, day, acts=[{"op": "flag", "name": "escalation"}]))
    events.append(finished(person, day))
    return events


def start_memory(
    procs: Services, database_url: str, bus_url: str, ingest: ServiceProcess, **settings: Any
) -> ServiceProcess:
    settings.setdefault("ingest_url", ingest.url)
    settings.setdefault("memory_sweep_interval_s", "0.5")
    return procs.start("lifeline_memory", service_env(database_url, bus_url, **settings))


async def get(url: str, path: str, *, key: str = TEST_API_KEY, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=30) as c:
        return await c.get(path, params=params)


async def oracle(
    ingest_url: str, person: str, sessions: list[str], key: str = TEST_API_KEY, tenant: str = "default"
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The profile and bias the pure consolidation gives over ingest's log of `sessions`."""
    logs = {s: await log_of(ingest_url, s, key) for s in sessions}
    profile = profile_of_logs(tenant, person, logs, POLICY)
    return profile, (render_bias(profile) if profile else None)


def without_volatile(body: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in body.items() if k not in VOLATILE}, option=orjson.OPT_SORT_KEYS)
