"""Chaos under load (issue 11): nothing acknowledged is lost and every projection converges
while each service, then Valkey, then PostgreSQL is SIGKILLed and restarted by its supervisor.

Short by default (a few hundred events, each victim once: part of `make test`); `make chaos`
scales it with CHAOS_EVENTS and CHAOS_ROUNDS and prints the figures.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from lifeline_testing.chaos import (
    EVENTS_PER_SESSION,
    SERVERS,
    SERVICES,
    Figures,
    chaos_stack,
    check,
    run_kills,
    run_load,
)

EVENTS = int(os.environ.get("CHAOS_EVENTS", "300"))
ROUNDS = int(os.environ.get("CHAOS_ROUNDS", "1"))


async def test_nothing_acknowledged_is_lost_and_every_projection_converges(scratch_path: Path) -> None:
    """Under appends, SIGKILL of every service, Valkey and PostgreSQL in turn: the log holds
    every acknowledged event once with gapless seq; replay, snapshot, trace-store and memory
    equal the oracle fold of that log."""
    sessions = [f"chaos-{i}" for i in range(max(2, EVENTS // EVENTS_PER_SESSION))]
    figures = Figures(sessions=len(sessions))
    acked: dict[str, list[dict[str, Any]]] = defaultdict(list)
    started = time.monotonic()
    async with chaos_stack(scratch_path) as stack:
        figures.phases["start"] = time.monotonic() - started
        total = len(sessions) * EVENTS_PER_SESSION
        await asyncio.gather(run_load(stack.urls["ingest"], sessions, EVENTS_PER_SESSION, figures, acked),
                             run_kills(stack, [*SERVICES, *SERVERS] * ROUNDS, figures, total))
        figures.phases["load and kills"] = time.monotonic() - started - figures.phases["start"]
        figures.mismatches = await check(stack, acked)
        figures.phases["checks"] = time.monotonic() - started - sum(figures.phases.values())
    figures.seconds = time.monotonic() - started
    print(figures.report())  # the figures `make chaos` shows; nothing timed is asserted
    assert figures.events == total and len(figures.kills) == len(SERVICES + SERVERS) * ROUNDS
    assert figures.mismatches == []
