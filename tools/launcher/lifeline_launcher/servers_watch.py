"""`make run` supervises the embedded servers it started, not only the services.

A Valkey or PostgreSQL that dies (SIGKILL, OOM) is restarted on the same port with the
same data directory, and the console says so: services reconnect by themselves, so the
stack heals instead of running on silently with nothing behind it. Servers named by
LIFELINE_*_URL are not ours and are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from lifeline_servers import RunningServer

NAMES = {"redis": "valkey", "postgres": "postgresql", "kafka": "tansu"}


async def watch_servers(servers: Sequence[RunningServer], report: Callable[[str], None],
                        stop: asyncio.Event, *, interval_s: float = 1.0) -> None:
    """Until `stop` is set: restart every owned server found dead, with backoff on failure."""
    backoff: dict[int, float] = {}
    while not stop.is_set():
        for server in servers:
            if server.controllable and not server.is_running():
                await _revive(server, report, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def _revive(server: RunningServer, report: Callable[[str], None],
                  backoff: dict[int, float]) -> None:
    name = NAMES.get(server.kind, server.kind)
    report(f"[yellow]{name} ({server.url}) stopped unexpectedly: restarting it, data kept[/yellow]")
    try:
        await asyncio.to_thread(server.restart)
    except Exception as exc:  # a server that cannot start now may start later: keep trying
        delay = min(30.0, backoff.get(id(server), 0.5) * 2)
        backoff[id(server)] = delay
        report(f"[red]{name} could not be restarted ({exc}); trying again in {delay:.0f}s[/red]")
        await asyncio.sleep(delay)
        return
    backoff.pop(id(server), None)
    report(f"[green]{name} restarted[/green] on {server.url}; services reconnect by themselves")
