"""Chaos under load: the whole stack supervised as `make run` supervises it, appends flowing,
every service then Valkey then PostgreSQL SIGKILLed in turn; afterwards the log and every
projection are checked against the oracle fold (issue 11: `make chaos`, short in `make test`).

The stack is the launcher's own machinery on free ports: services under its `Supervisor`
(restarted after a crash), its servers under `watch_servers` (restarted, data kept). The load
retries each event until it is acknowledged (turn ids and event ids make a retry a duplicate,
never a second copy), so at the end every acknowledged event must be in the log exactly once
with gapless seq, and every projection must equal the fold of that log.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from lifeline_events import canonical_json
from lifeline_launcher.servers_watch import watch_servers
from lifeline_launcher.services import ServiceSpec
from lifeline_launcher.stack import Stack, service_env
from lifeline_launcher.supervisor import Supervisor
from lifeline_servers import RunningServer, free_port, start_postgres, start_valkey
from lifeline_testing.oracle import fold_of_log
from lifeline_testing.processes import TEST_KEYS, auth
from lifeline_testing.snapshot_stack import projected_state

SERVICES = ("ingest", "replay", "snapshot", "memory", "governance", "tracestore")
SERVERS = ("valkey", "postgresql")
EVENTS_PER_SESSION = 25
LOGGED = ("turn.recorded", "session.finished")
"""The event types the load appends (trace-store also keeps lifecycle events)."""


@dataclass
class Figures:
    """What a chaos run did and found; `mismatches` must be empty."""

    events: int = 0
    sessions: int = 0
    retries: int = 0
    kills: list[tuple[str, float]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    progressed: asyncio.Event = field(default_factory=asyncio.Event)

    def report(self) -> str:
        kills = ", ".join(f"{victim} {s:.1f}s" for victim, s in self.kills)
        return (f"chaos: {self.events} events acknowledged in {self.sessions} sessions, "
                f"{self.retries} retried appends, {len(self.kills)} kills (recovery: {kills}), "
                f"mismatches = {len(self.mismatches)}, {self.seconds:.0f} s ("
                + ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items()) + ")")


@dataclass
class ChaosStack:
    supervisor: Supervisor
    servers: dict[str, RunningServer]
    urls: dict[str, str]
    database_url: str

    async def kill(self, victim: str) -> float:
        """SIGKILL `victim`; seconds until it is ready again (for a server: every service)."""
        started = time.monotonic()
        if victim in self.servers:
            await asyncio.to_thread(self.servers[victim].kill)
        else:
            next(s for s in self.supervisor.services if s.spec.name == victim).process.kill()
        await asyncio.sleep(0.3)  # let the supervisors notice before asking for readiness
        await _all_ready(self.urls.values() if victim in self.servers else [self.urls[victim]])
        return time.monotonic() - started


async def _all_ready(urls: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        for url in urls:
            while True:
                try:
                    if (await client.get(url + "/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} not ready {timeout:.0f} s after a kill")
                await asyncio.sleep(0.2)


@asynccontextmanager
async def chaos_stack(work: Path) -> AsyncIterator[ChaosStack]:
    """Valkey (persistent, as `make run`) and PostgreSQL under watch, six services supervised."""
    async with AsyncExitStack() as stack:
        valkey = await asyncio.to_thread(start_valkey, work / "valkey", persist=True)
        stack.callback(valkey.stop)
        pg = await asyncio.to_thread(start_postgres, work / "pg", durable=False)
        stack.callback(pg.stop)
        specs = [ServiceSpec(n, f"lifeline_{n}", free_port(), f"LIFELINE_{n.upper()}_URL") for n in SERVICES]
        (work / "logs").mkdir(exist_ok=True)
        said: list[str] = []
        supervisor = Supervisor(work / "logs", said.append, max_restarts=10_000, restart_window_s=1.0,
                                stop_grace_s=2.0)
        coords = Stack(valkey.url, pg.url, valkey.url)
        for spec in specs:
            env = service_env(coords, spec, specs, json.dumps(TEST_KEYS))
            supervisor.add(spec, {**env, "LIFELINE_SHUTDOWN_GRACE_S": "2", "LIFELINE_HTTP_TIMEOUT_S": "5"})
        stack.push_async_callback(supervisor.stop_all)
        outcomes = await supervisor.start_all()
        failed = {s.spec.name: s.process.log_tail(20) for s in supervisor.services
                  if outcomes[s.spec.name] != "ready"}
        assert not failed, f"{outcomes}\n{failed}"
        stop = asyncio.Event()
        watchers = [asyncio.create_task(supervisor.watch(stop)),
                    asyncio.create_task(watch_servers([valkey, pg], said.append, stop, interval_s=0.2))]

        async def halt() -> None:
            stop.set()
            await asyncio.gather(*watchers)

        stack.push_async_callback(halt)
        yield ChaosStack(supervisor, {"valkey": valkey, "postgresql": pg},
                         {s.name: s.url for s in specs}, pg.url)


def _events(session: int, count: int) -> list[dict[str, Any]]:
    """A session's events: turns with acts, then `session.finished` with a fixed event id."""
    person = f"p-{session % 3}"
    events: list[dict[str, Any]] = [{
        "event_type": "turn.recorded", "turn_id": t, "person_id": person,
        "payload": {"role": "user" if t % 2 else "assistant", "text": f"turn {t} of s{session}",
                    "intent": "pricing",
                    "acts": [{"op": "set_stage", "stage": f"stage-{t % 4}"},
                             {"op": "confirm_fact", "key": f"k{t % 5}", "value": f"v{t}"}]}}
        for t in range(1, count)]
    events.append({"event_type": "session.finished", "person_id": person,
                   "event_id": str(uuid.uuid4()), "payload": {"reason": "done"}})
    return events


async def _append_until_acked(client: httpx.AsyncClient, session: str, event: dict[str, Any],
                              figures: Figures) -> dict[str, Any]:
    while True:
        try:
            r = await client.post(f"/v1/sessions/{session}/events", json={"events": [event]}, headers=auth())
            if r.status_code == 200:
                return dict(r.json()["results"][0])
        except httpx.HTTPError:
            pass
        figures.retries += 1
        await asyncio.sleep(0.1)


async def run_load(ingest_url: str, sessions: list[str], per_session: int, figures: Figures,
                   acked: dict[str, list[dict[str, Any]]], workers: int = 4) -> None:
    """Append every session's events one request at a time, `workers` sessions at once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(sessions)):
        queue.put_nowait(i)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=ingest_url, timeout=10) as client:
            while not queue.empty():
                i = queue.get_nowait()
                for event in _events(i, per_session):
                    acked[sessions[i]].append(await _append_until_acked(client, sessions[i], event, figures))
                    figures.events += 1
                    figures.progressed.set()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def run_kills(stack: ChaosStack, victims: list[str], figures: Figures, total: int) -> None:
    """Kill each victim once the load has gone a further share of the way, not waiting for the
    last one to be back (a service takes seconds to restart; the load goes on meanwhile)."""
    recoveries = []
    for n, victim in enumerate(victims, start=1):
        while figures.events < total * n / (len(victims) + 1):
            figures.progressed.clear()
            await figures.progressed.wait()
        recoveries.append(asyncio.create_task(stack.kill(victim)))
        await asyncio.sleep(0.5)  # the victim is down (a restarting service takes seconds more)
    figures.kills = list(zip(victims, await asyncio.gather(*recoveries), strict=True))
    await _all_ready(stack.urls.values())


async def _eventually_equal(what: str, have: Callable[[], Awaitable[Any]], want: Any,
                            timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    got: Any = None
    while time.monotonic() < deadline:
        try:
            got = await have()
        except (httpx.HTTPError, OSError, asyncpg.PostgresError) as exc:
            got = repr(exc)
        if got == want:
            return None
        await asyncio.sleep(0.25)
    return f"{what}: {str(got)[:200]}"


async def check(stack: ChaosStack, acked: dict[str, list[dict[str, Any]]],
                timeout: float = 90.0) -> list[str]:
    """Every way the log or a projection differs from what was acknowledged and its fold."""
    problems = await _check_log(stack.database_url, acked)
    async with httpx.AsyncClient(timeout=30, headers=auth()) as client:
        for session, results in sorted(acked.items()):
            problems += await _check_projections(stack, client, session, max(r["seq"] for r in results),
                                                 timeout)
    return problems


async def _check_projections(stack: ChaosStack, client: httpx.AsyncClient, session: str, last: int,
                             timeout: float) -> list[str]:
    """replay's and snapshot's states equal the fold; trace-store holds each seq once; memory
    digested the finished session through its last seq."""
    urls = stack.urls
    want = canonical_json(await fold_of_log(urls["ingest"], session))
    person = f"p-{int(session.rsplit('-', 1)[1]) % 3}"

    async def replay() -> bytes:
        r = await client.get(f"{urls['replay']}/v1/sessions/{session}/state", params={"min_seq": last})
        return canonical_json(r.json()["state"]) if r.status_code == 200 else r.content

    async def snapshot() -> bytes | None:
        state = await projected_state(stack.database_url, session)
        return canonical_json(state) if state is not None else None

    async def traces() -> tuple[list[int], bytes | None]:
        """The logged events' seqs (each once) and the context stored after the last one."""
        r = await client.get(f"{urls['tracestore']}/replay/session/{person}/{session}",
                             params={"limit": 1000})
        logged = [t for t in (r.json() if r.status_code == 200 else []) if t["event_type"] in LOGGED]
        logged.sort(key=lambda t: t["event_data"]["seq"])
        context = logged[-1]["context_snapshot"] if logged else None
        return [t["event_data"]["seq"] for t in logged], canonical_json(context) if context else None

    async def memory() -> int | None:
        r = await client.get(f"{urls['memory']}/v1/persons/{person}/sessions/{session}")
        return r.json().get("through_seq") if r.status_code == 200 else None

    checks: list[tuple[str, Callable[[], Awaitable[Any]], Any]] = [
        ("replay state", replay, want), ("snapshot state", snapshot, want),
        ("trace-store seqs and context", traces, (list(range(1, last + 1)), want)),
        ("memory digest through_seq", memory, last)]
    found = [await _eventually_equal(f"{session} {name}", probe, expected, timeout)
             for name, probe, expected in checks]
    return [p for p in found if p]


async def _check_log(database_url: str, acked: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Gapless seq per session; every acknowledged event there exactly once, at its seq."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT session_id, seq, event_id FROM ingest.events ORDER BY session_id, seq")
    finally:
        await conn.close()
    logged: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        logged.setdefault(r["session_id"], []).append((r["seq"], str(r["event_id"])))
    problems = []
    for session, results in acked.items():
        have = logged.get(session, [])
        if [seq for seq, _ in have] != list(range(1, len(have) + 1)):
            problems.append(f"{session}: seq not gapless")
        want = sorted((r["seq"], r["event_id"]) for r in results)
        if have != want:
            problems.append(f"{session}: log {len(have)} events, acknowledged {len(want)} (or at other seqs)")
    return problems
