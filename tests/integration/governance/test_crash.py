"""SIGKILL of governance mid-batch, on both buses: after a restart every call is counted
exactly once (the checkpoint advances in the buckets' transaction)."""

from __future__ import annotations

import asyncio

import asyncpg

from lifeline_testing.waiting import eventually

from .helpers import calls, send, start_stack, wait_calls

SESSIONS, PER_SESSION = 12, 60


async def _counted(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT model_id, sum(calls) AS n, sum(successes) AS ok "
            "FROM governance.call_buckets GROUP BY model_id"
        )
    finally:
        await conn.close()
    return {r["model_id"]: int(r["n"]) for r in rows} | {f"{r['model_id']}:ok": int(r["ok"]) for r in rows}


async def test_sigkill_mid_batch_converges_to_the_oracle(fresh_database, bus_url, procs) -> None:
    """Kill -9 while batches are being applied; the restarted consumer ends at the exact counts."""
    ingest, gov = start_stack(procs, fresh_database, bus_url, governance_consumer_max_records=20)
    oracle: dict[str, int] = {}
    for s in range(SESSIONS):
        model = f"m-{s % 3}"
        events = calls(model, PER_SESSION, score=5 + s % 5, success=[True, True, False])
        await send(ingest, f"crash-{s}", events)
        oracle[model] = oracle.get(model, 0) + PER_SESSION
        oracle[f"{model}:ok"] = oracle.get(f"{model}:ok", 0) + PER_SESSION * 2 // 3

    async def started() -> int | None:
        n = sum(v for k, v in (await _counted(fresh_database)).items() if ":" not in k)
        return n or None

    first = await eventually(started, timeout=60, what="the consumer to start applying")
    gov.kill()
    assert first < SESSIONS * PER_SESSION, "killed too late to prove anything; make the batches smaller"
    gov.start()
    await wait_calls(fresh_database, SESSIONS * PER_SESSION)
    await asyncio.sleep(1)  # redeliveries of the killed batch, if any, arrive now and must add nothing
    assert await _counted(fresh_database) == oracle
