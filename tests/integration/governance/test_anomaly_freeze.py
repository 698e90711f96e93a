"""A score drop between two windows raises an anomaly (also on a frozen intent), and a frozen
intent only records what it would have done."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from .helpers import calls, client, log_at, register, run_tick, start_stack, states, transition, wait_calls


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_anomaly_fires_and_freeze_only_records_would(fresh_database, redis_url, procs) -> None:
    """Frozen: the better shadow is `frozen:would_promote_shadow`; a 2.5 drop is announced as an anomaly."""
    _, gov = start_stack(procs, fresh_database, redis_url, governance_window_s=60)
    async with client(gov) as c:
        for model in ("gpt-a", "gpt-b"):
            await register(c, model, "pricing")
        await transition(c, "gpt-a", "pricing", "CANDIDATE")
        assert (await transition(c, "gpt-a", "pricing", "PRIMARY")).status_code == 200
        r = await c.put("/v1/intents/pricing", json={"frozen": True, "reason": "release freeze"})
        assert r.status_code == 200 and r.json()["frozen"] is True

        # the two windows are minutes to come, stamped on the logged events themselves
        first_minute = int(time.time()) // 60 * 60 + 60
        await log_at(redis_url, "s-1", calls("gpt-a", 30, score=8.0), _at(first_minute + 10))
        await log_at(redis_url, "s-2", calls("gpt-a", 30, score=5.5) + calls("gpt-b", 30, score=9.5,
                                                                             first_turn=100),
                     _at(first_minute + 70))
        await wait_calls(fresh_database, 90)

        report = await run_tick(c, first_minute + 120)
        assert [(d["kind"], d["model_id"]) for d in report["decisions"]] == [("anomaly", "gpt-a")]
        assert await states(c) == {"gpt-a": "PRIMARY", "gpt-b": "SHADOW"}
        verdicts = report["intents"][0]["verdicts"]
        assert verdicts["gpt-b"]["verdict"] == "frozen:would_promote_shadow"

        audit = (await c.get("/v1/audit", params={"intent": "pricing", "include": "evaluations"})).json()
        assert [d["kind"] for d in audit["decisions"]].count("anomaly") == 1
        assert {e["model_id"]: e["verdict"] for e in audit["evaluations"]}[
            "gpt-b"
        ] == "frozen:would_promote_shadow"
        route = (await c.get("/v1/routing/pricing")).json()
        assert route["frozen"] is True and any("anomaly" in w for w in route["warnings"])
        again = await run_tick(c, first_minute + 121)
        assert again["decisions"] == [], "the anomaly cool-down holds"
