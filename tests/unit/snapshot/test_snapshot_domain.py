"""Snapshot rules (when, identity, announcement), the WAL plan, and module hygiene."""

from __future__ import annotations

from datetime import UTC, datetime

from lifeline_events import Event, SessionState, content_hash
from lifeline_snapshot.domain import SnapshotRow, announcement, draft, trigger_for
from lifeline_snapshot.wal.view import Projected, annotate, lag, plan

NOW = datetime(2025, 10, 18, tzinfo=UTC)


def _event(seq: int, event_type: str = "turn.recorded") -> Event:
    payload = {"role": "user", "text": "hi"} if event_type == "turn.recorded" else {}
    return Event.model_validate({
        "event_id": f"00000000-0000-7000-8000-{seq:012d}", "event_type": event_type, "tenant_id": "t",
        "session_id": "s", "seq": seq, "turn_id": seq if event_type == "turn.recorded" else None,
        "occurred_at": NOW, "recorded_at": NOW, "payload": payload})


def test_periodic_and_finished_triggers() -> None:
    """Every Nth seq is periodic; session.finished always snapshots and wins a tie."""
    assert [s for s in range(1, 21) if trigger_for(_event(s), 5)] == [5, 10, 15, 20]
    assert trigger_for(_event(7, "session.finished"), 5) == "finished"
    assert trigger_for(_event(10, "session.finished"), 5) == "finished"
    assert trigger_for(_event(10), 0) is None


def test_same_state_same_hash_new_id() -> None:
    """Two drafts of one state share the content hash (the dedupe key) but not the id."""
    state = SessionState(seq=4, stage="x")
    a, b = draft(state, "periodic"), draft(state.model_dump(mode="json"), "on_demand")
    assert a.content_hash == b.content_hash == content_hash(state) and a.id != b.id and a.at_seq == 4


def test_announcement_is_a_full_event_keyed_by_the_snapshot() -> None:
    """snapshot.created carries the snapshot id as its event id and at_seq as its seq."""
    snap = draft(SessionState(seq=10), "finished")
    row = SnapshotRow(id=snap.id, tenant_id="t", session_id="s", at_seq=10, content_hash=snap.content_hash,
                      label="end", trigger="finished", created_at=NOW)
    event = Event.from_json(announcement(row, "p-1").to_json_bytes())
    assert (str(event.event_id), event.seq, event.event_type, event.person_id) == \
        (snap.id, 10, "snapshot.created", "p-1")
    assert event.payload.snapshot_id == snap.id and event.payload.label == "end"


def test_wal_annotation_and_plan() -> None:
    """Applied is seq <= checkpoint; unknown projections stay None and out of the plan."""
    projections = {"snapshot": Projected("ok", 3), "replay": Projected("unreachable", None)}
    entries = annotate([{"seq": s, "published": s != 5} for s in range(1, 6)], projections)
    assert [e["applied"] for e in entries][2:4] == [{"snapshot": True, "replay": None},
                                                   {"snapshot": False, "replay": None}]
    assert lag(5, projections) == {"snapshot": 2, "replay": None}
    assert plan(5, [5], projections) == {"needed": True, "from_seq": 4,
                                         "reasons": {"unpublished": 5, "unapplied:snapshot": 4}}
    assert plan(5, [], {"snapshot": Projected("ok", 5)})["needed"] is False
