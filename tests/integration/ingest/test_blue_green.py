"""Blue-green friendly shutdown: SIGTERM turns /ready 503 first, then drains; SIGHUP is ignored."""

from __future__ import annotations

import signal

import httpx

from lifeline_testing.waiting import eventually


async def test_sigterm_turns_ready_off_before_draining_and_sighup_is_ignored(
        fresh_database, redis_url, start_ingest) -> None:
    """After SIGHUP the process still serves; after SIGTERM /ready is 503 `draining` while
    /health still answers, and the process then exits by itself."""
    ingest = start_ingest(fresh_database, redis_url, shutdown_ready_delay_s="3")
    assert ingest.proc is not None
    ingest.proc.send_signal(signal.SIGHUP)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        assert (await c.get("/ready")).status_code == 200
        ingest.proc.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            r = await c.get("/ready")
            return r.status_code == 503 and r.json()["status"] == "draining"

        await eventually(draining, what="/ready 503 draining")
        assert (await c.get("/health")).status_code == 200  # still serving in-flight work
    ingest.proc.wait(60)


async def test_a_served_process_freezes_its_start_up_heap(fresh_database, redis_url, start_ingest) -> None:
    """serve() moves what start-up built out of the collector's reach (gc.freeze), so a
    full collection no longer walks every imported module: /metrics shows the count."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        text = (await c.get("/metrics")).text
    frozen = [float(line.split()[1]) for line in text.splitlines()
              if line.startswith("lifeline_gc_frozen_objects ")]
    assert frozen, "lifeline_gc_frozen_objects missing from /metrics"
    # FastAPI, pydantic's schemas, OpenTelemetry and the pools: tens of thousands of objects
    assert frozen[0] > 10_000, frozen
