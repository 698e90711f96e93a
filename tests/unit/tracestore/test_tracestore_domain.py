"""The trace store's pure rules: trace rows and contexts, partitions, retention plans, pacing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson

from lifeline_events import Event, SessionState, canonical_json, fold, parse_new_event
from lifeline_tracestore.domain import (
    context_matches,
    fold_traces,
    is_anchor,
    lifecycle_trace,
    otel_trace_id,
    partition_day,
    partition_name,
    plan_retention,
    rebuild_contexts,
    stream_delays,
)

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _event(seq: int, *, person: str | None = "p-7", event_type: str = "turn.recorded",
           traceparent: str | None = None) -> Event:
    raw: dict = {"event_type": event_type, "person_id": person, "payload": {}}
    if event_type == "turn.recorded":
        raw.update(turn_id=seq, payload={"role": "user", "text": f"turn {seq}",
                                         "acts": [{"op": "set_stage", "stage": f"s{seq}"}]})
    if traceparent:
        raw["traceparent"] = traceparent
    new = parse_new_event(raw, session_id="s-1", tenant_id="t")
    return Event.from_new(new, seq=seq, recorded_at=T0 + timedelta(seconds=seq))


def test_fold_traces_gives_each_event_the_state_after_it() -> None:
    """Trace n's context is the fold of events 1..n, and the final state is the fold of all."""
    events = [_event(1, event_type="session.started", person=None), _event(2), _event(3, traceparent=TP)]
    state, rows = fold_traces(SessionState(), events)
    assert state == fold(events)
    for n, row in enumerate(rows, start=1):
        assert row.context_snapshot == canonical_json(fold(events[:n])).decode()
        assert row.seq == n and row.ts == events[n - 1].recorded_at and row.source == "events"
    assert rows[0].person_id is None and rows[1].person_id == "p-7"
    assert rows[2].otel_trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and rows[1].otel_trace_id is None
    assert orjson.loads(rows[2].event_data)["seq"] == 3


def test_folding_resumes_from_a_stored_state() -> None:
    """Folding the rest onto the stored state gives the same contexts as folding from scratch."""
    events = [_event(n) for n in range(1, 6)]
    stored, _ = fold_traces(SessionState(), events[:2])
    restored = SessionState.model_validate(orjson.loads(canonical_json(stored)))
    _, rest = fold_traces(restored, events[2:])
    _, whole = fold_traces(SessionState(), events)
    assert [r.context_snapshot for r in rest] == [r.context_snapshot for r in whole[2:]]


def test_lifecycle_trace_carries_the_latest_context_and_no_seq() -> None:
    """A lifecycle trace has its session's latest context and person, and no log seq."""
    latest = orjson.loads(canonical_json(fold([_event(1), _event(2)])))
    row = lifecycle_trace(_event(3, event_type="session.finished", person=None), latest)
    assert row.seq is None and row.source == "lifecycle" and row.person_id == "p-7"
    assert orjson.loads(row.context_snapshot or "null") == latest
    assert lifecycle_trace(_event(1, person=None), None).context_snapshot is None


def test_otel_trace_id_rejects_malformed_and_zero_ids() -> None:
    """Only a well-formed traceparent with a non-zero trace id yields an OTel trace id."""
    assert otel_trace_id(TP) == "4bf92f3577b34da6a3ce929d0e0e4736"
    for bad in (None, "", "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01", TP.upper()):
        assert otel_trace_id(bad) is None


def test_partition_names_round_trip() -> None:
    """A day's partition name gives the day back; other tables are not partitions."""
    assert partition_name(date(2025, 1, 5)) == "event_traces_p20250105"
    assert partition_day("event_traces_p20250105") == date(2025, 1, 5)
    assert partition_day("event_traces") is None and partition_day("session_states") is None


def test_retention_drops_whole_days_and_trims_the_straddling_one() -> None:
    """Days ending at or before the cutoff are dropped; the day holding the cutoff is trimmed."""
    now = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    days = [date(2025, 1, 20), date(2025, 1, 29), date(2025, 1, 30), date(2025, 2, 15), date(2025, 3, 1)]
    plan = plan_retention(days, now=now, days_to_keep=30)
    assert plan.cutoff == datetime(2025, 1, 30, 6, 0, tzinfo=UTC)
    assert plan.drop == (date(2025, 1, 20), date(2025, 1, 29))
    assert plan.trim == date(2025, 1, 30)
    midnight = plan_retention(days, now=datetime(2025, 3, 1, tzinfo=UTC), days_to_keep=30)
    assert midnight.drop == (date(2025, 1, 20), date(2025, 1, 29)) and midnight.trim is None
    assert plan_retention(days[3:], now=now, days_to_keep=30).trim is None


def test_stream_delays_scale_and_cap_gaps() -> None:
    """Each delay is the gap × time_scale, never negative, never above the cap."""
    ts = [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=102), T0 + timedelta(seconds=101)]
    assert stream_delays(ts, time_scale=0.5, max_gap_s=10) == [0.0, 1.0, 10.0, 0.0]
    assert stream_delays(ts, time_scale=0, max_gap_s=10) == [0.0] * 4
    assert stream_delays([], time_scale=1, max_gap_s=1) == []


def test_context_matches_compares_canonical_bytes() -> None:
    """A rebuilt state matches its stored JSON snapshot; any difference is caught."""
    state = fold([_event(1), _event(2)])
    stored = orjson.loads(canonical_json(state))
    assert context_matches(state, stored)
    assert not context_matches(state, {**stored, "stage": "other"})
    assert not context_matches(state, None)


def _stored(rows: list) -> list[tuple[int, object, object]]:
    """(seq, event_data, context) as the store reads them back (JSON decoded)."""
    return [(r.seq, orjson.loads(r.event_data),
             orjson.loads(r.context_snapshot) if r.context_snapshot else None) for r in rows]


def test_anchor_rule_every_kth_and_day_changes() -> None:
    """A row stores its context at a multiple of K or on a new UTC day; the first of a run
    is left to the store (it chains back to the row before it when that one is stored)."""
    day, next_day = T0.date(), T0.date() + timedelta(days=1)
    assert not is_anchor(5, day, None, every=16)  # first of a run: the store decides
    assert is_anchor(32, day, None, every=16)  # ... unless it is a K-th seq
    assert is_anchor(32, day, day, every=16)
    assert not is_anchor(33, day, day, every=16)
    assert is_anchor(33, next_day, day, every=16)  # the day changed
    assert is_anchor(33, day, next_day, every=16)  # even backwards (a clock step)
    assert is_anchor(33, day, day, every=1)  # K=1: every row, as before anchors


def test_fold_traces_stores_contexts_on_anchors_and_the_runs_first_row() -> None:
    """K=4 over seqs 3..12 (2 already folded) with a day change at 9: anchors 4, 8, 9, 12; the
    run's first row (3) carries its context too, marked as chaining back to seq 2."""
    events = [_event(n) for n in range(1, 13)]
    events = [e if e.seq < 9 else e.model_copy(update={"recorded_at": e.recorded_at + timedelta(days=1)})
              for e in events]
    state, _ = fold_traces(SessionState(), events[:2])
    end, rows = fold_traces(state, events, every=4)
    assert end == fold(events)
    assert [r.seq for r in rows if r.context_snapshot is not None] == [3, 4, 8, 9, 12]
    assert [r.seq for r in rows if r.chains_back] == [3]
    assert rows[0].context_snapshot == canonical_json(fold(events[:3])).decode()
    assert rows[-1].context_snapshot == canonical_json(end).decode()  # 12 is a K-th seq
    _, every_row = fold_traces(state, events)
    assert all(r.context_snapshot is not None and not r.chains_back for r in every_row)
    _, from_anchor = fold_traces(fold(events[:3]), events, every=4)  # the run starts at a K-th seq
    assert from_anchor[0].seq == 4 and not from_anchor[0].chains_back


def test_rebuild_contexts_folds_the_stored_events_onto_the_nearest_anchor() -> None:
    """A context-less row's rebuilt context is byte for byte what K=1 stored; a gap or a missing
    anchor leaves a target out instead of guessing."""
    events = [_event(n) for n in range(1, 21)]
    _, full = fold_traces(SessionState(), events)
    _, sparse = fold_traces(SessionState(), events, every=8)
    chain = _stored(sparse)
    rebuilt = rebuild_contexts(chain, set(range(1, 21)))
    missing = {r.seq for r in sparse if r.context_snapshot is None}
    assert set(rebuilt) == missing and missing == set(range(2, 21)) - {8, 16}
    for seq, context in rebuilt.items():
        assert context.decode() == full[seq - 1].context_snapshot
    assert set(rebuild_contexts(chain[9:], {10, 11, 17})) == {17}  # no anchor before 10 and 11
    gap = chain[:4] + chain[5:]  # seq 5 deleted: 6, 7 cannot be rebuilt; 9.. from anchor 8
    assert set(rebuild_contexts(gap, {3, 6, 7, 9})) == {3, 9}
