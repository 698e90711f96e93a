"""The stack heals itself: `make run` restarts its dead servers, services wait for PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lifeline_launcher.servers_watch import watch_servers
from lifeline_servicekit import ServiceSettings, open_database
from lifeline_testing.waiting import eventually


async def test_a_killed_server_is_restarted_and_the_console_says_so(disposable_server) -> None:
    """SIGKILL of an embedded server: restarted on the same URL, reported on the console."""
    server = disposable_server("redis")
    said: list[str] = []
    stop = asyncio.Event()
    watching = asyncio.create_task(watch_servers([server], said.append, stop, interval_s=0.1))
    try:
        server.kill()
        await eventually(lambda: _restarted(said), timeout=60, what="the restart reported")
        assert server.is_running()
        assert "stopped unexpectedly" in said[0] and "data kept" in said[0]
    finally:
        stop.set()
        await watching


async def _restarted(said: list[str]) -> bool:
    return any("restarted" in line for line in said)


async def test_a_service_waits_for_its_database_at_start(disposable_server, tmp_path: Path) -> None:
    """open_database retries with backoff while PostgreSQL is down, then opens and migrates."""
    server = disposable_server("postgres")
    server.stop()
    settings = ServiceSettings(database_url=server.url, database_wait_s=120)
    (tmp_path / "001_t.sql").write_text("CREATE TABLE waited.t (x int);")
    opening = asyncio.create_task(open_database(settings, "waited", tmp_path))
    await asyncio.sleep(0.5)
    assert not opening.done()  # still waiting, not crashed
    await asyncio.to_thread(server.restart)
    pool = await asyncio.wait_for(opening, 120)
    try:
        assert await pool.fetchval("SELECT count(*) FROM waited.t") == 0
    finally:
        await pool.close()
