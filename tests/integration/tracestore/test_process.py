"""trace-store as a process: readiness names what it lacks; SIGTERM drains and exits cleanly."""

from __future__ import annotations

import signal

import httpx

from lifeline_testing.tracestore import service_env
from lifeline_testing.waiting import eventually


async def test_readiness_names_the_missing_bus_and_sigterm_exits_cleanly(fresh_database, procs,
                                                                        free_port) -> None:
    """With the bus unreachable /ready is 503 naming the bus (health stays 200); SIGTERM drains and exits."""
    env = service_env(fresh_database, f"redis://127.0.0.1:{free_port}/0")
    store = procs.start("lifeline_tracestore", env, wait_ready=False)
    async with httpx.AsyncClient(base_url=store.url) as c:
        async def not_ready() -> dict | None:
            r = await c.get("/ready")
            return r.json() if r.status_code == 503 else None

        body = await eventually(not_ready, what="/ready to answer 503")
        assert "bus" in body["detail"] and body["checks"]["database"]["ok"] is True
        assert (await c.get("/health")).status_code == 200
    # uvicorn re-raises the signal once its shutdown is complete: ended by SIGTERM, not crashed
    assert store.terminate(timeout=30) in (0, -signal.SIGTERM)
    assert '"shutdown.done"' in store.log_path.read_text(), store.tail()
