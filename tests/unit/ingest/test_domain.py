"""ingest's pure append planning: dedupe, gapless seq, optimistic concurrency."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import NewEvent, SessionBranched, parse_new_event
from lifeline_ingest.branching import branched_event_id
from lifeline_ingest.domain import AppendRejectedError, Known, SeqConflictError, SessionCursor, plan_append
from lifeline_ingest.errors import BranchPendingError
from lifeline_ingest.room import Join
from lifeline_servicekit.problems import lifeline_problem

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _ids():
    counter = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def turn(t: int, text: str = "hi"):
    return parse_new_event({"event_type": "turn.recorded", "turn_id": t,
                            "payload": {"role": "user", "text": text}}, session_id="s", tenant_id="d")


def test_new_events_get_consecutive_seq_after_the_log():
    """New events continue the session's seq with no gap."""
    cursor = SessionCursor("d", "s", last_seq=7)
    rows, outcomes = plan_append(cursor, [turn(1), turn(2)], expected_seq=None, now=NOW, new_id=_ids())
    assert [r.seq for r in rows] == [8, 9]
    assert [(o.seq, o.duplicate) for o in outcomes] == [(8, False), (9, False)]
    assert cursor.last_seq == 9


def test_repeated_turn_in_log_or_batch_is_a_duplicate_with_original_seq():
    """A turn id already logged, or repeated in the same batch, answers its first seq."""
    known = Known(3, uuid.UUID(int=99), "d", "s")
    cursor = SessionCursor("d", "s", last_seq=3, by_turn={5: known})
    rows, outcomes = plan_append(cursor, [turn(5), turn(6), turn(6, "again")], expected_seq=None,
                                 now=NOW, new_id=_ids())
    assert [r.seq for r in rows] == [4]
    assert [(o.seq, o.duplicate) for o in outcomes] == [(3, True), (4, False), (4, True)]
    assert outcomes[0].event_id == known.event_id


def test_stale_expected_seq_is_refused_unless_the_batch_is_a_pure_retry():
    """expected_seq ≠ last_seq refuses new events, but a retry of logged ones is answered."""
    cursor = SessionCursor("d", "s", last_seq=2, by_turn={1: Known(1, uuid.UUID(int=1), "d", "s")})
    with pytest.raises(SeqConflictError) as exc:
        plan_append(cursor, [turn(3)], expected_seq=1, now=NOW, new_id=_ids())
    assert exc.value.extra["current_seq"] == 2
    assert cursor.last_seq == 2
    rows, outcomes = plan_append(cursor, [turn(1)], expected_seq=0, now=NOW, new_id=_ids())
    assert rows == [] and outcomes[0].duplicate


def test_event_id_of_another_session_is_refused():
    """An event id already used by another session is a conflict, not a duplicate."""
    eid = uuid.UUID(int=42)
    cursor = SessionCursor("d", "s", last_seq=0, by_event={eid: Known(1, eid, "d", "other")})
    event = parse_new_event({"event_type": "session.started", "event_id": str(eid), "payload": {}},
                            session_id="s", tenant_id="d")
    with pytest.raises(AppendRejectedError):
        plan_append(cursor, [event], expected_seq=None, now=NOW, new_id=_ids())


def test_planned_rows_equal_validated_events():
    """Rows built without re-validation serialize exactly as fully validated events do."""
    from lifeline_events import Event

    rows, _ = plan_append(SessionCursor("d", "s", 0), [turn(1, "Price of veneers?")], expected_seq=None,
                          now=NOW, new_id=_ids(), traceparent=f"00-{'a' * 32}-{'b' * 16}-01")
    assert Event.from_json(rows[0].to_json_bytes()).to_json_bytes() == rows[0].to_json_bytes()


def test_turns_are_scored_at_ingest():
    """Every logged turn carries a salience so every projection folds the same score."""
    rows, _ = plan_append(SessionCursor("d", "s", 0), [turn(1, "What does it cost?")],
                          expected_seq=None, now=NOW, new_id=_ids())
    assert rows[0].payload.salience is not None and 0 <= rows[0].payload.salience <= 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=40))
def test_any_mix_of_turn_ids_logs_each_once_gaplessly(turn_ids):
    """Whatever turns arrive, in whatever batches, each is logged once and seq stays 1..n."""
    cursor = SessionCursor("d", "s", 0)
    ids, logged = _ids(), []
    for i in range(0, len(turn_ids), 3):
        rows, _ = plan_append(cursor, [turn(t) for t in turn_ids[i:i + 3]], expected_seq=None,
                              now=NOW, new_id=ids)
        logged += rows
    assert [r.seq for r in logged] == list(range(1, len(set(turn_ids)) + 1))
    assert sorted(r.turn_id for r in logged) == sorted(set(turn_ids))


def _branched(session: str = "s.b", event_id: uuid.UUID | None = None) -> NewEvent:
    return NewEvent(event_type="session.branched", event_id=event_id or branched_event_id("d", session),
                    payload=SessionBranched(parent_session_id="s", from_seq=3, name="b"))


def test_a_branch_takes_nothing_before_its_session_branched():
    """While a branch's last seq is its from_seq, a plain append, a room command and a forged
    session.branched (another id) are refused with a 409 to retry, and nothing is planned."""
    cursor = SessionCursor("d", "s.b", last_seq=3, branched_at=3)
    refusals = [
        lambda: plan_append(cursor, [turn(4)], expected_seq=None, now=NOW, new_id=_ids()),
        lambda: plan_append(cursor, [turn(4), _branched()], expected_seq=3, now=NOW, new_id=_ids()),
        lambda: plan_append(cursor, [_branched(event_id=uuid.UUID(int=7))], expected_seq=None, now=NOW,
                            new_id=_ids()),
        lambda: plan_append(cursor, [], expected_seq=None, now=NOW, new_id=_ids(),
                            command=Join("p1", "owner")),
    ]
    for refused in refusals:
        with pytest.raises(BranchPendingError) as exc:
            refused()
        assert (exc.value.title, exc.value.extra["session_id"]) == ("Branch being created, retry", "s.b")
        assert cursor.last_seq == 3
    problem = lifeline_problem(exc.value)
    assert problem is not None and problem.status_code == 409


def test_a_branch_s_own_session_branched_comes_first_then_anything():
    """The branch's session.branched takes from_seq + 1; what follows it, in the same batch or a
    later one planned on the same cursor (one group commit), is planned as usual."""
    cursor = SessionCursor("d", "s.b", last_seq=3, branched_at=3)
    rows, _ = plan_append(cursor, [_branched(), turn(4)], expected_seq=None, now=NOW, new_id=_ids())
    assert [(r.seq, r.event_type) for r in rows] == [(4, "session.branched"), (5, "turn.recorded")]
    rows, _ = plan_append(cursor, [turn(5)], expected_seq=5, now=NOW, new_id=_ids())
    assert [r.seq for r in rows] == [6]


def test_sessions_that_are_no_branch_or_whose_branch_started_are_not_guarded():
    """No from_seq (no branch), or a last seq past it (session.branched logged): appends as ever."""
    for cursor in (SessionCursor("d", "s", last_seq=3), SessionCursor("d", "s.b", last_seq=4, branched_at=3)):
        rows, _ = plan_append(cursor, [turn(9)], expected_seq=None, now=NOW, new_id=_ids())
        assert [r.seq for r in rows] == [cursor.last_seq]
