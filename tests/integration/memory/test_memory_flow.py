"""The user's path on real servers: sessions through ingest → profile, bias, one event per version."""

from __future__ import annotations

import httpx
import orjson

from lifeline_events import TOPIC_LIFECYCLE, Event
from lifeline_testing.appends import append
from lifeline_testing.processes import auth
from lifeline_testing.topics import read_topic

from .helpers import coach_session, get, oracle, start_memory, without_volatile

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def _consolidated(bus_url: str, person: str) -> list[Event]:
    records = await read_topic(bus_url, TOPIC_LIFECYCLE)
    events = [Event.from_json(r.value) for r in records]
    mine = [e for e in events if e.event_type == "profile.consolidated" and e.person_id == person]
    return sorted(mine, key=lambda e: e.payload.profile_version)  # Kafka: keyed by session, many partitions


async def test_two_sessions_become_the_oracles_profile(fresh_database, bus_url, procs) -> None:
    """After two finished sessions the served profile equals the pure consolidation of ingest's
    log byte for byte; the bias is small and cites real turns; each version is announced once."""
    ingest = procs.ingest(fresh_database, bus_url)
    memory = start_memory(procs, fresh_database, bus_url, ingest)
    await append(
        ingest.url, "s-1", coach_session("p-7", 0, ["price_missed", "no_next_step"], contact="phone")
    )
    await append(
        ingest.url,
        "s-2",
        coach_session("p-7", 3, ["price_missed"], guarantee=True, contact="email"),
        headers={"traceparent": TRACEPARENT},
    )
    r = await get(memory.url, "/v1/persons/p-7/profile", after_session="s-2")
    assert r.status_code == 200, r.text
    served = r.json()
    expected, expected_bias = await oracle(ingest.url, "p-7", ["s-1", "s-2"])
    assert expected is not None
    assert without_volatile(served) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)
    assert served["top_errors"] == ["price_missed"] and served["sessions_count"] == 2
    assert served["compliance_flags"][0] == "guarantee_language"
    item = served["errors"][0]
    assert {"occurrences", "sessions", "trend", "dormant", "conflict", "evidence"} <= set(item)
    assert {"session_id", "turn_id", "seq", "event_id"} <= set(item["evidence"][0])
    assert {f["key"]: f["value"] for f in served["facts"]} == {"preferred_contact": "email"}

    bias = (await get(memory.url, "/v1/persons/p-7/bias", tenant_id="default")).json()
    assert bias["focus"] == expected_bias["focus"] and len(orjson.dumps(bias)) <= 2048
    assert bias["version"] == served["version"]

    events = await _consolidated(bus_url, "p-7")
    assert [e.payload.profile_version for e in events] == list(range(1, served["version"] + 1))
    assert len({e.event_id for e in events}) == len(events)
    assert events[-1].traceparent is not None and events[-1].session_id == "s-2"
    assert events[-1].traceparent.split("-")[1] == TRACEPARENT.split("-")[1]  # the request's trace id
    assert events[-1].payload.top_errors == served["top_errors"]

    async with httpx.AsyncClient(base_url=memory.url, headers=auth(), timeout=30) as c:
        for body in ({}, {"session_id": "s-2"}, {"rebuild": True}, {"dry_run": True}):
            again = await c.post("/v1/persons/p-7/consolidate", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["changed"] is False and again.json()["content_hash"] == served["content_hash"]
    assert len(await _consolidated(bus_url, "p-7")) == len(events)
    assert without_volatile((await get(memory.url, "/v1/persons/p-7/profile")).json()) == without_volatile(
        served
    )
