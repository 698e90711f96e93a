"""The seed's state machine driven by real events through ingest, on both buses: a better
shadow climbs to PRIMARY (the old one → ACTIVE), a failing PRIMARY is quarantined and fails
over, `?at=` answers the past and agrees with the announced events, verify reproduces all."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

from lifeline_events import TOPIC_LIFECYCLE, Event
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually

from .helpers import calls, client, register, run_tick, send, start_stack, states, transition, wait_calls


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def primary_at_from_events(events: list[Event], intent: str, at: float) -> str | None:
    """Fold `model.state.changed` (as trace-store stores them) into "PRIMARY at T"."""
    state: dict[str, str] = {}
    for e in sorted(events, key=lambda e: e.seq):
        p: Any = e.payload
        if e.event_type == "model.state.changed" and p.intent == intent and e.recorded_at.timestamp() <= at:
            state[p.model_id] = p.to_state
    return next((m for m, s in state.items() if s == "PRIMARY"), None)


async def test_promotion_quarantine_failover_and_time_travel(fresh_database, bus_url, procs) -> None:
    """SHADOW → CANDIDATE → PRIMARY on evidence; quarantine after two failing ticks fails over."""
    ingest, gov = start_stack(procs, fresh_database, bus_url)
    async with client(gov) as c:
        await register(c, "gpt-a", "pricing")
        await register(c, "gpt-b", "pricing")
        assert (await transition(c, "gpt-a", "pricing", "CANDIDATE")).status_code == 200
        assert (await transition(c, "gpt-a", "pricing", "PRIMARY")).status_code == 200
        # a turn and the model.call.recorded describing it count once
        twice = calls("gpt-a", 10, score=6.0, first_turn=1) + [
            {
                "event_type": "model.call.recorded",
                "payload": {
                    "model_id": "gpt-a",
                    "intent": "pricing",
                    "success": True,
                    "turn_id": t,
                    "tokens_in": 5,
                },
            }
            for t in range(1, 11)
        ]
        await send(ingest, "s-merge", twice)
        await send(ingest, "s-a", calls("gpt-a", 40, score=6.0))
        await send(ingest, "s-b", calls("gpt-b", 40, score=8.5, via="call"))
        await wait_calls(fresh_database, 90)

        base = int(time.time()) + 120  # windows end on whole minutes: include this one
        first = await run_tick(c, base)
        assert [d["rule"] for d in first["decisions"]] == ["promote_shadow"]
        assert await states(c) == {"gpt-a": "PRIMARY", "gpt-b": "CANDIDATE"}
        await run_tick(c, base + 1)
        before_promotion = time.time()
        third = await run_tick(c, base + 2)
        after_promotion = time.time()
        assert [(d["model_id"], d["to_state"]) for d in third["decisions"]] == [
            ("gpt-a", "ACTIVE"),
            ("gpt-b", "PRIMARY"),
        ]
        assert (await c.get("/v1/routing/pricing")).json()["model_id"] == "gpt-b"
        assert (await c.get("/v1/routing/pricing", params={"at": _iso(before_promotion)})).json()[
            "model_id"
        ] == "gpt-a"
        assert (await c.get("/v1/routing/pricing", params={"at": _iso(after_promotion)})).json()[
            "model_id"
        ] == "gpt-b"
        again = await run_tick(c, base + 2)
        assert again["decisions"] == [], "a re-run of a decided tick adds nothing"

        await send(ingest, "s-b2", calls("gpt-b", 100, score=8.5, success=False, via="call"))
        await wait_calls(fresh_database, 190)
        pending = await run_tick(c, base + 3)
        assert pending["decisions"] == []
        failed = await run_tick(c, base + 4)
        assert [(d["model_id"], d["to_state"], d["rule"]) for d in failed["decisions"]] == [
            ("gpt-b", "QUARANTINED", "quarantine"),
            ("gpt-a", "PRIMARY", "failover"),
        ]
        assert await states(c) == {"gpt-a": "PRIMARY", "gpt-b": "QUARANTINED"}
        route = (await c.get("/v1/routing/pricing")).json()
        assert route["model_id"] == "gpt-a"
        refused = await transition(c, "gpt-b", "pricing", "ACTIVE")
        assert refused.status_code == 409 and refused.json()["state"] == "QUARANTINED"

        verify = (await c.post("/v1/admin/lifecycle/verify", json={})).json()
        assert verify["evaluations_checked"] >= 5 and verify["mismatches"] == []
        # the early ticks ran "ahead" of the failures sent later into the same minutes: drift, reported
        assert verify["drift"] and all(d["models"] == ["gpt-b"] for d in verify["drift"])
        assert verify["fold"]["differences"] == []

        audit = (await c.get("/v1/audit", params={"intent": "pricing"})).json()["decisions"]
        seqs = [d["seq"] for d in audit]
        assert seqs == list(range(1, len(seqs) + 1)), "decision seqs are gapless"

        async def announced() -> list[Event] | None:
            records = await read_topic(bus_url, TOPIC_LIFECYCLE)
            events = [Event.from_json(r.value) for r in records]
            got = {e.event_id for e in events}
            wanted = {d["decision_id"] for d in audit if d["kind"] != "configure"}
            return events if wanted <= {str(g) for g in got} else None

        events = await eventually(announced, timeout=30, what="every decision announced")
        for moment in (before_promotion, after_promotion, time.time()):
            r = (await c.get("/v1/routing/pricing", params={"at": _iso(moment)})).json()
            assert r["model_id"] == primary_at_from_events(events, "pricing", moment)

        model = (await c.get("/v1/models/gpt-a")).json()
        window = model["placements"][0]["window"]
        assert window["calls"] == 50 and window["outcomes"] == 50, orjson.dumps(window)
