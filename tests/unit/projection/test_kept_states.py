"""KeptStates: a kept state is offered only to the run that follows it directly."""

from __future__ import annotations

from datetime import UTC, datetime

from lifeline_events import Event, SessionState, parse_new_event
from lifeline_projection import KeptStates, SessionKey
from lifeline_testing.builders import turn

A, B, C = (SessionKey("t", s) for s in ("a", "b", "c"))


def _run(key: SessionKey, first: int, n: int = 2) -> list[Event]:
    return [Event.from_new(parse_new_event(turn(seq, f"turn {seq}"), session_id=key.session_id,
                                           tenant_id=key.tenant_id), seq=seq,
                           recorded_at=datetime(2026, 1, 1, tzinfo=UTC)) for seq in range(first, first + n)]


def test_only_a_run_starting_right_after_the_kept_seq_gets_it() -> None:
    kept = KeptStates(10)
    kept.keep(A, SessionState(seq=4))
    kept.keep(B, SessionState(seq=4))
    found = kept.following({A: _run(A, 5), B: _run(B, 7), C: _run(C, 1)})
    assert list(found) == [A] and found[A].seq == 4


def test_forgetting_and_the_capacity() -> None:
    kept = KeptStates(2)
    kept.keep(A, SessionState(seq=1))
    kept.keep(B, SessionState(seq=1))
    kept.keep(A, SessionState(seq=1))  # A is now the most recent: B goes first
    kept.keep(C, SessionState(seq=1))
    assert set(kept.following({k: _run(k, 2) for k in (A, B, C)})) == {A, C}
    kept.keep(A, None)
    assert set(kept.following({k: _run(k, 2) for k in (A, B, C)})) == {C}
    assert KeptStates(0).following({A: _run(A, 2)}) == {}
