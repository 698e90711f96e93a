"""The outbox relay's pacing: it lingers after a small batch, and not when idle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from lifeline_bus import OutMessage
from lifeline_ingest import relay as relay_module
from lifeline_ingest.relay import OutboxRelay
from lifeline_ingest.store import OutboxRow

LINGER_S = 0.2


class _Bus:
    def __init__(self) -> None:
        self.published: list[list[OutMessage]] = []

    async def publish(self, topic: str, messages: list[OutMessage]) -> None:
        self.published.append(messages)


class _Outbox:
    """The rows the relay reads, and when it read them."""

    def __init__(self) -> None:
        self.pending: list[OutboxRow] = []
        self.reads: list[tuple[float, int]] = []

    def commit(self, n: int) -> None:
        start = len(self.pending) + sum(n for _, n in self.reads)
        self.pending += [OutboxRow(start + i, "s", b"{}", None, datetime.now(UTC)) for i in range(n)]

    async def fetch(self, conn: Any, limit: int) -> list[OutboxRow]:
        rows, self.pending = self.pending[:limit], self.pending[limit:]
        self.reads.append((time.monotonic(), len(rows)))
        return rows


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> _Outbox:
    box = _Outbox()

    async def nothing(*_: Any) -> None:
        return None

    async def lead(*_: Any) -> bool:
        return True

    monkeypatch.setattr(relay_module, "fetch_unpublished", box.fetch)
    for name in ("mark_published", "listen_outbox", "unlisten_outbox", "stop_leading"):
        monkeypatch.setattr(relay_module, name, nothing)
    monkeypatch.setattr(relay_module, "try_lead", lead)
    return box


async def _until(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_after_a_small_batch_the_relay_lingers_so_the_next_commits_are_published_together(
        outbox: _Outbox) -> None:
    """A commit woken relay publishes at once; commits arriving during the linger that follows
    are read together, one linger later, even though each of them woke the relay."""
    bus = _Bus()
    relay = OutboxRelay(None, bus, batch=100, poll_s=5.0, linger_s=LINGER_S)  # type: ignore[arg-type]
    task = asyncio.create_task(relay._lead(None))  # type: ignore[arg-type]
    try:
        await _until(lambda: len(outbox.reads) == 1)  # the first read finds nothing: idle
        outbox.commit(1)
        woken = time.monotonic()
        relay.wake()
        await _until(lambda: len(bus.published) == 1)
        assert outbox.reads[1][0] - woken < LINGER_S / 2  # idle: no linger before the read
        for _ in range(3):
            outbox.commit(1)
            relay.wake()
            await asyncio.sleep(0.01)
        await _until(lambda: len(bus.published) == 2)
        assert [len(batch) for batch in bus.published] == [1, 3]
        assert outbox.reads[2][0] - outbox.reads[1][0] >= LINGER_S
    finally:
        await relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_without_a_linger_every_wake_up_reads_at_once(outbox: _Outbox) -> None:
    """`linger_s=0` keeps the old pacing: every wake-up reads at once."""
    bus = _Bus()
    relay = OutboxRelay(None, bus, batch=100, poll_s=5.0, linger_s=0)  # type: ignore[arg-type]
    task = asyncio.create_task(relay._lead(None))  # type: ignore[arg-type]
    try:
        await _until(lambda: len(outbox.reads) == 1)
        for expected in (1, 2):
            outbox.commit(1)
            relay.wake()
            await _until(lambda: len(bus.published) == expected)  # noqa: B023
        assert [len(batch) for batch in bus.published] == [1, 1]
        assert outbox.reads[2][0] - outbox.reads[1][0] < LINGER_S / 2
    finally:
        await relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
