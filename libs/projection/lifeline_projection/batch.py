"""What a projection's callbacks receive: a bus batch, decoded and grouped by session.

Each session's events come as a `Run`: in seq order, each with the JSON bytes it
arrived as, so a consumer that writes the event out (replay's hot stream,
trace-store's rows) passes the delivery's bytes through instead of serialising the
decoded model again. Events read from ingest's log to heal a gap have no delivery;
their bytes are the canonical serialisation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import asyncpg

from lifeline_bus import Delivery
from lifeline_events import Event, EventValidationError


@dataclass(frozen=True, order=True)
class SessionKey:
    tenant_id: str
    session_id: str


class Run(Sequence[Event]):
    """A session's events in seq order, each beside the JSON bytes it was decoded from."""

    __slots__ = ("_events", "_raw")

    def __init__(self, pairs: Iterable[tuple[Event, bytes | None]] = ()) -> None:
        items = list(pairs)
        self._events = [e for e, _ in items]
        self._raw = [r for _, r in items]

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> Run: ...
    def __getitem__(self, index: int | slice) -> Event | Run:
        if isinstance(index, slice):
            return Run(zip(self._events[index], self._raw[index], strict=True))
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"Run(seqs={[e.seq for e in self._events]})"

    def pairs(self) -> Iterator[tuple[Event, bytes]]:
        """(event, its JSON bytes): as delivered, or canonical for a healed event."""
        for event, raw in zip(self._events, self._raw, strict=True):
            yield event, raw if raw is not None else event.to_json_bytes()


def raw_json(events: Sequence[Event]) -> list[bytes]:
    """The JSON bytes of `events`: the delivery's own where the engine kept them."""
    if isinstance(events, Run):
        return [raw for _, raw in events.pairs()]
    return [e.to_json_bytes() for e in events]


# Apply a batch's fresh events (per session contiguous, in seq order) inside the open
# transaction; called once per bus batch. The engine advances the checkpoints.
BatchApply = Callable[[asyncpg.Connection, Mapping[SessionKey, Sequence[Event]]], Awaitable[None]]
# After the batch's transaction committed: what it applied, per session.
AfterCommit = Callable[[Mapping[SessionKey, Sequence[Event]]], Awaitable[None]]


def decode_batch(batch: Sequence[Delivery]) -> tuple[dict[SessionKey, Run], dict[str, str]]:
    """Decode a bus batch once: runs per session (deduplicated by seq), and rejections."""
    rejected: dict[str, str] = {}
    # grouped by a plain tuple: a frozen dataclass per event cost more than the grouping
    by_session: dict[tuple[str, str], dict[int, tuple[Event, bytes]]] = {}
    for delivery in batch:
        try:
            event = Event.from_json(delivery.value)
        except EventValidationError as exc:
            rejected[delivery.id] = f"not a valid event: {exc}"
            continue
        by_session.setdefault((event.tenant_id, event.session_id), {})[event.seq] = (event, delivery.value)
    runs = {SessionKey(*key): Run(pairs[seq] for seq in sorted(pairs)) for key, pairs in by_session.items()}
    return runs, rejected
