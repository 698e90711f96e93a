"""Samples and buckets: a call counts once, the intent falls back as the fold's does, and
bucket sums do not depend on how the bus happened to batch the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import Event
from lifeline_governance.samples import BucketKey, Counters, SessionCursor, apply_events, latency_bucket
from lifeline_governance.stats import mean_sd, welch_t, wilson_interval
from lifeline_governance.windows import Figures, align_tick, p95_ms, windows_at

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def ev(
    seq: int, event_type: str, payload: dict[str, Any], turn_id: int | None = None, seconds: int | None = None
) -> Event:
    at = T0 + timedelta(seconds=seq if seconds is None else seconds)
    return Event.model_validate(
        {
            "event_id": UUID(int=seq),
            "event_type": event_type,
            "tenant_id": "t",
            "session_id": "s",
            "turn_id": turn_id,
            "seq": seq,
            "occurred_at": at,
            "recorded_at": at,
            "payload": payload,
        }
    )


def turn(
    seq: int,
    turn_id: int,
    model: str | None = "gpt-a",
    intent: str | None = "pricing",
    seconds: int | None = None,
    **fields: Any,
) -> Event:
    payload = {"role": "assistant", "text": "…", "intent": intent, "model_id": model, **fields}
    return ev(seq, "turn.recorded", {k: v for k, v in payload.items() if v is not None}, turn_id, seconds)


def call(seq: int, model: str = "gpt-a", turn_id: int | None = None, **fields: Any) -> Event:
    return ev(seq, "model.call.recorded", {"model_id": model, "success": True, "turn_id": turn_id, **fields})


def fold(events: list[Event]) -> dict[BucketKey, Counters]:
    out: dict[BucketKey, Counters] = {}
    apply_events(SessionCursor(), events, out)
    return out


def test_a_turn_and_its_model_call_count_once_and_merge_fields() -> None:
    """The second description only fills what the first left null, in the first's bucket."""
    out = fold(
        [
            turn(1, 7, model_score=8.0, success=None),
            call(2, turn_id=7, score=2.0, latency_ms=900, success=False),
        ]
    )
    ((key, c),) = out.items()
    got = (key.intent, c.calls, c.outcomes, c.successes, c.scored, c.score_milli_sum)
    assert got == ("pricing", 1, 1, 0, 1, 8000)
    assert c.latency_n == 1 and c.latency_hist[latency_bucket(900)] == 1


def test_a_mirrored_call_of_another_model_on_the_same_turn_is_a_call_of_its_own() -> None:
    out = fold([turn(1, 7, model_score=8.0, success=True), call(2, model="gpt-c", turn_id=7, score=7.0)])
    assert sorted((k.model_id, c.calls) for k, c in out.items()) == [("gpt-a", 1), ("gpt-c", 1)]


def test_intent_falls_back_to_the_sessions_current_intent_then_to_star() -> None:
    out = fold(
        [
            call(1, turn_id=None, score=5.0),
            turn(2, 1, model=None, intent="billing"),
            call(3, turn_id=None, score=5.0),
        ]
    )
    assert sorted(k.intent for k in out) == ["*", "billing"]


def test_latencies_beyond_the_last_bound_land_in_infinity() -> None:
    assert latency_bucket(12_800) == 8 and latency_bucket(12_801) == 9 and latency_bucket(0) == 0


event_lists = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.sampled_from(["turn", "call"]),
        st.booleans(),
        st.integers(0, 10),
        st.integers(0, 20_000),
        st.integers(0, 300),
    ),
    min_size=1,
    max_size=40,
)


def _events(spec: list[tuple[int, str, bool, int, int, int]]) -> list[Event]:
    out = []
    for seq, (turn_id, kind, ok, score, latency, second) in enumerate(spec, start=1):
        if kind == "turn":
            out.append(turn(seq, turn_id, success=ok, model_score=score, latency_ms=latency, seconds=second))
        else:
            out.append(
                ev(
                    seq,
                    "model.call.recorded",
                    {"model_id": "gpt-a", "success": ok, "turn_id": turn_id, "score": score / 2},
                    seconds=second,
                )
            )
    return out


@settings(max_examples=100, deadline=None)
@given(event_lists, st.lists(st.integers(1, 10), min_size=1, max_size=10))
def test_bucket_sums_are_invariant_under_rebatching(spec: list[Any], cuts: list[int]) -> None:
    """Any split of the log into batches, with the cursor saved and reloaded between them,
    gives identical integer sums."""
    events = _events(spec)
    whole = fold(events)
    split: dict[BucketKey, Counters] = {}
    cursor, start = SessionCursor(), 0
    for size in [*cuts, len(events)]:
        apply_events(cursor, events[start : start + size], split)
        cursor = SessionCursor(cursor.current_intent, dict(cursor.known))  # as stored and reloaded
        start += size
        if start >= len(events):
            break
    apply_events(cursor, events[start:], split)
    assert {k: v.as_row() for k, v in whole.items()} == {k: v.as_row() for k, v in split.items()}


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson_interval(199, 208)
    assert round(low, 4) == 0.9198 and round(high, 4) == 0.9771
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_welch_t_is_finite_and_mean_sd_come_from_integer_sums() -> None:
    assert welch_t(8.0, 0.0, 10, 6.0, 0.0, 10) == 1e6
    assert round(welch_t(8.4, 1.1, 180, 6.1, 2.2, 95), 1) == 9.6
    mean, sd = mean_sd(3000 + 5000, 3000**2 + 5000**2, 2)
    assert mean == 4.0 and round(sd, 6) == round(2**0.5, 6)


def test_windows_are_aligned_and_exclude_the_settle_time() -> None:
    tick = align_tick(1_800_000_059.9, 60)
    current, previous = windows_at(tick, 3600, 30)
    assert tick % 60 == 0 and current.end == tick - 60 and previous.end == current.start
    assert windows_at(tick + 59, 3600, 0)[0].end == tick, "only whole, settled minutes"


def test_figures_compute_effective_score_and_p95() -> None:
    c = Counters(
        calls=10,
        outcomes=10,
        successes=9,
        scored=10,
        score_milli_sum=80_000,
        score_milli_sq=640_000_000,
        latency_n=10,
        latency_sum_ms=0,
        latency_hist=[0, 0, 0, 0, 9, 1, 0, 0, 0, 0],
    )
    f = Figures.of(c, 2.0)
    assert f.effective_score is not None and round(f.effective_score, 6) == round(8.0 * 2.0 * 0.9, 6)
    assert p95_ms(c.latency_hist) == 1600
