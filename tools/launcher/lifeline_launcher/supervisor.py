"""Service processes: start, wait until healthy and ready, restart on death, stop.

A service that dies is restarted with a growing delay, at most `max_restarts` times
in `restart_window_s`; past that it stays down and says so, rather than flapping
forever and burying its first error under restarts.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lifeline_launcher.services import ServiceSpec
from lifeline_servers.process import ManagedProcess

Report = Callable[[str], None]


@dataclass
class Supervised:
    """One service process and its restart history."""

    spec: ServiceSpec
    process: ManagedProcess
    restarts: list[float] = field(default_factory=list)
    given_up: bool = False
    next_start: float = 0.0


class Supervisor:
    """Runs the declared services until asked to stop."""

    def __init__(
        self,
        logs: Path,
        report: Report,
        *,
        ready_timeout_s: float = 60.0,
        stop_grace_s: float = 15.0,
        max_restarts: int = 5,
        restart_window_s: float = 300.0,
    ) -> None:
        self.logs = logs
        self.report = report
        self.ready_timeout_s = ready_timeout_s
        self.stop_grace_s = stop_grace_s
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.services: list[Supervised] = []

    def add(self, spec: ServiceSpec, env: dict[str, str]) -> None:
        process = ManagedProcess(
            [sys.executable, "-m", spec.module],
            log_path=self.logs / f"{spec.name}.log",
            env=env,
            orphan_grace_s=self.stop_grace_s,
        )
        self.services.append(Supervised(spec, process))

    async def start_all(self) -> dict[str, str]:
        """Start every service and wait for each; returns name → "ready" or the problem."""
        for service in self.services:
            service.process.start()
        outcomes = await asyncio.gather(*(self._wait_ready(s) for s in self.services))
        return {s.spec.name: outcome for s, outcome in zip(self.services, outcomes, strict=True)}

    async def _wait_ready(self, service: Supervised) -> str:
        """Poll /health, then /ready: "ready", or why not (process died, 503 body, timeout)."""
        deadline = time.monotonic() + self.ready_timeout_s
        last = "no answer yet"
        async with httpx.AsyncClient(base_url=service.spec.url, timeout=2.0) as client:
            for path in ("/health", "/ready"):
                while True:
                    if not service.process.is_alive():
                        return f"exited with code {service.process.returncode}"
                    try:
                        response = await client.get(path)
                        if response.status_code == 200:
                            break
                        last = f"{path} answered {response.status_code}: {response.text[:300]}"
                    except httpx.HTTPError as exc:
                        last = f"{path}: {exc.__class__.__name__}"
                    if time.monotonic() > deadline:
                        return f"not ready after {self.ready_timeout_s:.0f}s ({last})"
                    await asyncio.sleep(0.2)
        return "ready"

    async def watch(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: notice dead services, report them, restart within budget.

        Each dead service is handled on its own, so services that died together restart
        together instead of one after another, each waiting for the last to be ready.
        """
        handling: dict[str, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                for service in self.services:
                    busy = service.spec.name in handling and not handling[service.spec.name].done()
                    if not busy and not service.given_up and not service.process.is_alive():
                        handling[service.spec.name] = asyncio.create_task(self._handle_exit(service))
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except TimeoutError:
                    pass
        finally:
            for task in handling.values():
                task.cancel()
            await asyncio.gather(*handling.values(), return_exceptions=True)

    async def _handle_exit(self, service: Supervised) -> None:
        now = time.monotonic()
        if service.next_start == 0.0:  # first time we see this death
            name, code = service.spec.name, service.process.returncode
            self.report(
                f"[red]{name} exited with code {code}[/red]; last lines of "
                f"{service.process.log_path}:\n{service.process.log_tail(15)}"
            )
            service.restarts = [t for t in service.restarts if now - t < self.restart_window_s]
            if len(service.restarts) >= self.max_restarts:
                service.given_up = True
                self.report(
                    f"[red]{name} died {len(service.restarts) + 1} times in "
                    f"{self.restart_window_s:.0f}s: not restarting it[/red]"
                )
                return
            delay = min(30.0, 2.0 ** len(service.restarts))
            service.next_start = now + delay
            self.report(f"restarting {name} in {delay:.0f}s")
            return
        if now < service.next_start:
            return
        service.restarts.append(now)
        service.next_start = 0.0
        service.process.start()
        outcome = await self._wait_ready(service)
        self.report(f"{service.spec.name} restarted: {outcome}")

    async def stop_all(self) -> None:
        """SIGTERM every service at once; SIGKILL whatever outlives the grace period."""
        await asyncio.gather(*(asyncio.to_thread(s.process.stop, self.stop_grace_s) for s in self.services))
