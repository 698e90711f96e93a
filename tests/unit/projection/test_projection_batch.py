"""The projection engine's pure parts: decoding a batch, runs with their bytes, gap healing."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from lifeline_bus import Delivery
from lifeline_events import Event, parse_new_event
from lifeline_projection import Run, SessionKey, raw_json
from lifeline_projection.batch import decode_batch
from lifeline_projection.healing import heal
from lifeline_projection.projection import _first_after

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEY = SessionKey("default", "s-1")


def _event(seq: int, session: str = "s-1") -> Event:
    new = parse_new_event({"event_type": "turn.recorded", "turn_id": seq,
                           "payload": {"role": "user", "text": f"turn {seq}"}},
                          tenant_id="default", session_id=session)
    return Event.from_new(new, seq=seq, recorded_at=T0)


def _delivery(event: Event, spaced: bool = True) -> Delivery:
    # the relay publishes PostgreSQL's jsonb text, which is not the canonical form
    value = orjson.dumps(orjson.loads(event.to_json_bytes()), option=orjson.OPT_INDENT_2) if spaced \
        else event.to_json_bytes()
    return Delivery(topic="t", id=f"{event.session_id}-{event.seq}", value=value)


class _Log:
    """A stand-in for ingest's log: every event of one session."""

    def __init__(self, events: list[Event]) -> None:
        self.events_by_seq = {e.seq: e for e in events}
        self.calls: list[tuple[int, int | None]] = []

    async def events(self, tenant: str, session: str, *, after_seq: int = 0,
                     until_seq: int | None = None, page: int = 1000) -> list[Event]:
        self.calls.append((after_seq, until_seq))
        end = until_seq if until_seq is not None else max(self.events_by_seq)
        return [self.events_by_seq[s] for s in range(after_seq + 1, end + 1) if s in self.events_by_seq]


def test_decode_groups_by_session_in_seq_order_and_keeps_the_delivered_bytes() -> None:
    """Each session's run is sorted and deduplicated by seq, each event beside its own bytes."""
    a3, a1, b1, a1_again = _event(3), _event(1), _event(1, "s-2"), _event(1)
    batch = [_delivery(a3), _delivery(a1), _delivery(b1), _delivery(a1_again),
             Delivery(topic="t", id="bad", value=b"{not json")]
    runs, rejected = decode_batch(batch)
    assert list(rejected) == ["bad"]
    assert [e.seq for e in runs[KEY]] == [1, 3]
    assert raw_json(runs[KEY]) == [batch[3].value, batch[0].value]
    assert raw_json(runs[SessionKey("default", "s-2")]) == [batch[2].value]


def test_raw_json_of_a_plain_sequence_is_the_canonical_form() -> None:
    """Events that came without a delivery (healed, caught up) are serialised canonically."""
    events = [_event(1), _event(2)]
    assert raw_json(events) == [e.to_json_bytes() for e in events]
    assert raw_json(Run((e, None) for e in events)) == [e.to_json_bytes() for e in events]


def test_a_run_slices_into_a_run_with_its_bytes() -> None:
    """Slicing keeps each event beside its bytes (the engine trims runs by the locked checkpoint)."""
    run = Run((_event(s), f"raw-{s}".encode()) for s in (4, 5, 6))
    tail = run[1:]
    assert isinstance(tail, Run) and [e.seq for e in tail] == [5, 6]
    assert raw_json(tail) == [b"raw-5", b"raw-6"]


def test_first_after_trims_a_contiguous_run_to_what_the_locked_checkpoint_lacks() -> None:
    """A checkpoint that grew meanwhile only shortens the run at its front."""
    run = Run((_event(s), None) for s in (4, 5, 6))
    assert [_first_after(run, last) for last in (3, 4, 6, 9)] == [0, 1, 3, 3]


async def test_heal_reads_only_the_missing_range_and_keeps_delivered_bytes() -> None:
    """A hole between the checkpoint and the delivered events is read from the log."""
    log = _Log([_event(s) for s in range(1, 7)])
    fresh = Run((_event(s), f"raw-{s}".encode()) for s in (5, 6))
    run = await heal("test", log, KEY, 2, fresh)
    assert [e.seq for e in run] == [3, 4, 5, 6]
    assert log.calls == [(2, 4)]
    assert raw_json(run)[2:] == [b"raw-5", b"raw-6"]


async def test_heal_stops_before_a_hole_the_log_cannot_fill() -> None:
    """Without the missing events the run ends before the first hole (nothing is applied past it)."""
    fresh = Run((_event(s), None) for s in (1, 2, 4))
    assert [e.seq for e in await heal("test", None, KEY, 0, fresh)] == [1, 2]
    assert [e.seq for e in await heal("test", _Log([_event(1)]), KEY, 0, fresh)] == [1, 2]


async def test_heal_leaves_a_contiguous_run_alone() -> None:
    """No gap, no call to ingest."""
    log = _Log([])
    fresh = Run((_event(s), None) for s in (3, 4))
    assert await heal("test", log, KEY, 2, fresh) is fresh and log.calls == []
