"""Placement knobs over HTTP: canary and mirror shares chosen by `sample_key`, intent
weights, the routing table for caching callers, and a pin that blocks promotion."""

from __future__ import annotations

import time

from .helpers import calls, client, register, run_tick, send, start_stack, states, transition, wait_calls


async def test_canary_mirror_weights_table_and_pin(fresh_database, redis_url, procs) -> None:
    """The same sample key always gets the same canary answer; a pinned PRIMARY is never displaced."""
    ingest, gov = start_stack(procs, fresh_database, redis_url)
    async with client(gov) as c:
        await register(c, "gpt-a", "pricing")
        await register(c, "gpt-b", "pricing", canary_traffic=0.5)
        await register(c, "gpt-c", "pricing", shadow_rate=0.5)
        for model, to in (("gpt-a", "CANDIDATE"), ("gpt-a", "PRIMARY"), ("gpt-b", "CANDIDATE")):
            assert (await transition(c, model, "pricing", to)).status_code == 200
        route = (await c.get("/v1/routing/pricing")).json()
        assert route["canary"] == [{"model_id": "gpt-b", "traffic": 0.5}]
        assert route["mirror"] == [{"model_id": "gpt-c", "sample_rate": 0.5}]
        answers = {}
        for n in range(100):
            r = (await c.get("/v1/routing/pricing", params={"sample_key": f"s-{n}"})).json()
            answers[n] = (r["model_id"], r["reason"], tuple(r["mirror_to"]))
        again = (await c.get("/v1/routing/pricing", params={"sample_key": "s-7"})).json()
        assert (again["model_id"], again["reason"], tuple(again["mirror_to"])) == answers[7]
        chosen = [a[0] for a in answers.values()]
        assert 20 < chosen.count("gpt-b") < 80 and all(
            a[1] == "canary" for a in answers.values() if a[0] == "gpt-b"
        )
        assert 20 < sum(1 for a in answers.values() if a[2] == ("gpt-c",)) < 80

        r = await c.put("/v1/intents/pricing", json={"weight": 2.0})
        assert r.status_code == 200 and r.json()["weight"] == 2.0 and r.json()["primary_model_id"] == "gpt-a"
        whole = (await c.get("/v1/routing")).json()
        assert whole["routes"]["pricing"]["model_id"] == "gpt-a"
        unchanged = (await c.get("/v1/routing", params={"since_seq": whole["as_of_seq"]})).json()
        assert unchanged["changed"] is False

        pinned = await c.put("/v1/models/gpt-a", json={"intents": {"pricing": {"pinned": True}}})
        assert pinned.status_code == 200 and pinned.json()["placements"][0]["pinned"] is True
        kinds = [
            d["kind"] for d in (await c.get("/v1/audit", params={"model_id": "gpt-a"})).json()["decisions"]
        ]
        assert "configure" in kinds

        await send(ingest, "s-a", calls("gpt-a", 40, score=5.0))
        await send(ingest, "s-b", calls("gpt-b", 40, score=9.0))
        await wait_calls(fresh_database, 80)
        base = int(time.time()) + 120  # windows end on whole minutes: include this one
        for n in range(4):
            report = await run_tick(c, base + n)
            assert report["decisions"] == []
        assert report["intents"][0]["verdicts"]["gpt-b"]["verdict"] == "blocked_pinned"
        assert await states(c) == {"gpt-a": "PRIMARY", "gpt-b": "CANDIDATE", "gpt-c": "SHADOW"}
        model = (await c.get("/v1/models/gpt-b")).json()["placements"][0]
        assert model["window"]["intent_weight"] == 2.0
        assert model["vs_primary"]["model_id"] == "gpt-a" and model["vs_primary"]["ratio"] > 1.15
