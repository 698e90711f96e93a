"""Sealing a session: distinct turns, grader supersession, restore liveness, caps, facts."""

from __future__ import annotations

from lifeline_memory.consolidation import absorb, digest_of_log
from lifeline_memory.digest import MAX_CODES_PER_KIND, Suppression
from lifeline_memory.policy import Policy
from lifeline_memory.scalars import SessionScalars

from .builders import finished, grade, restore, turn

POLICY = Policy()


def counts(digest: dict, kind: str) -> dict[str, int]:
    return {i["code"]: i["n"] for i in digest["items"][kind]}


def test_act_and_grader_on_one_turn_count_once() -> None:
    """Frequency is turns that showed it: an act and a grader agreeing on turn 1 count one turn."""
    log = [
        turn(1, 1, acts=[{"op": "error", "code": "e1"}, {"op": "error", "code": "e1"}]),
        grade(2, 1, errors=["e1"]),
        turn(3, 2, acts=[{"op": "error", "code": "e1"}]),
        finished(4),
    ]
    d = digest_of_log("s-1", log, POLICY)
    assert counts(d, "error") == {"e1": 2}
    assert d["items"]["error"][0]["sources"] == ["act", "grader:coach"]
    assert d["status"] == "finished" and d["through_seq"] == 4


def test_a_regrade_replaces_the_same_graders_verdict() -> None:
    """The latest grade of (grader, turn) wins; an empty re-grade withdraws; other graders stand."""
    log = [
        turn(1, 1),
        grade(2, 1, errors=["e1", "e2"]),
        grade(3, 1, grader="other", errors=["e3"]),
        grade(4, 1, errors=["e2"]),
        turn(5, 2),
        grade(6, 2, strengths=["s1"]),
        grade(7, 2),
        finished(8),
    ]
    d = digest_of_log("s-1", log, POLICY)
    assert counts(d, "error") == {"e2": 1, "e3": 1}
    assert counts(d, "strength") == {}


def test_a_restore_rolls_back_later_evidence() -> None:
    """Evidence after the snapshot's position and before the restore no longer counts."""
    prior = [
        turn(1, 1, acts=[{"op": "error", "code": "early"}]),
        turn(2, 2, acts=[{"op": "error", "code": "late"}]),
    ]
    log = [*prior, restore(3, prior, 1), turn(4, 3, acts=[{"op": "error", "code": "after"}]), finished(5)]
    d = digest_of_log("s-1", log, POLICY)
    assert counts(d, "error") == {"early": 1, "after": 1}
    assert d["turns"] == 3


def test_a_rolled_back_regrade_lets_the_earlier_verdict_stand() -> None:
    """Liveness is decided before supersession, as the fold rolls state back."""
    prior = [turn(1, 1), grade(2, 1, errors=["first"]), turn(3, 2), grade(4, 1, errors=["second"])]
    log = [*prior, restore(5, prior, 3), finished(6)]
    assert counts(digest_of_log("s-1", log, POLICY), "error") == {"first": 1}


def test_codes_beyond_the_cap_are_dropped_and_marked() -> None:
    """At most 128 codes per kind per session, first seen kept, `truncated` names the kind."""
    log = [turn(i, i, acts=[{"op": "error", "code": f"c{i:03d}"}]) for i in range(1, 141)]
    d = digest_of_log("s-1", log, POLICY)
    assert len(d["items"]["error"]) == MAX_CODES_PER_KIND
    assert d["items"]["error"][-1]["code"] == "c128" and d["truncated"] == ["error"]


def test_facts_keep_the_sessions_final_value() -> None:
    """Per key the last live act wins; a retraction leaves `retracted: true`."""
    log = [
        turn(
            1,
            1,
            acts=[
                {"op": "confirm_fact", "key": "contact", "value": "phone"},
                {"op": "confirm_fact", "key": "city", "value": "Oslo"},
            ],
        ),
        turn(
            2,
            2,
            acts=[
                {"op": "confirm_fact", "key": "contact", "value": "email"},
                {"op": "retract_fact", "key": "city"},
            ],
        ),
    ]
    facts = {f["key"]: f for f in digest_of_log("s-1", log, POLICY)["facts"]}
    assert facts["contact"]["value"] == "email" and facts["city"]["retracted"] is True


def test_suppressed_evidence_does_not_count() -> None:
    """A suppression of (kind, code, session, turn) removes exactly that turn's evidence."""
    log = [turn(1, 1, acts=[{"op": "error", "code": "e1"}]), turn(2, 2, acts=[{"op": "error", "code": "e1"}])]
    sup = [Suppression("error", "e1", "s-1", 1)]
    assert counts(digest_of_log("s-1", log, POLICY, sup), "error") == {"e1": 1}
    assert counts(digest_of_log("s-1", log, POLICY, [Suppression("error", "e1")]), "error") == {}


def test_rule_flags_and_intents_are_observed() -> None:
    """A user promising guarantees raises a rule flag; evidence carries the current intent."""
    log = [
        turn(1, 1, intent="pricing"),
        turn(2, 2, text="it is guaranteed", acts=[{"op": "flag", "name": "x"}]),
    ]
    d = digest_of_log("s-1", log, POLICY)
    flag = {i["code"]: i for i in d["items"]["flag"]}
    assert flag["guarantee_language"]["sources"] == ["rule:guarantee_language"]
    assert flag["x"]["refs"][0]["intent"] == "pricing"
    assert d["status"] == "provisional" and d["top_intent"] == "pricing"


def test_redelivered_events_are_skipped_by_the_scalars() -> None:
    """absorb ignores events at or below the scalars' seq."""
    scalars, found = absorb(SessionScalars(), [turn(1, 1, acts=[{"op": "error", "code": "e"}])], POLICY.rules)
    again, more = absorb(scalars, [turn(1, 1, acts=[{"op": "error", "code": "e"}])], POLICY.rules)
    assert again == scalars and more == [] and len(found) == 1


def test_session_summary_names_counts() -> None:
    """The per-session summary is a fixed template with the date and the top codes."""
    log = [
        turn(1, 1, intent="pricing", acts=[{"op": "error", "code": "e1"}]),
        turn(2, 2, role="assistant"),
        finished(3),
    ]
    summary = digest_of_log("s-1", log, POLICY)["summary"]
    assert summary == "2026-01-01: 2 turns (1 by the person), mostly pricing; errors e1×1."
