"""The profile: recency weights, min-support, trend, dormant, conflict, flags, facts, forgetting."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_memory.consolidation import digest_of_log
from lifeline_memory.policy import Policy
from lifeline_memory.profile import build_profile

from .builders import PERSON, TENANT, finished, turn
from .strategies import sessions

POLICY = Policy()
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def session(
    sid: str, day: int, *codes: str, kind: str = "error", user_turns: int = 4, extra: list | None = None
) -> dict:
    key = "name" if kind == "flag" else "code"
    log = [
        turn(i + 1, i + 1, session=sid, day=day, acts=[{"op": kind, key: codes[i]}] if i < len(codes) else [])
        for i in range(user_turns)
    ]
    log += [
        e.model_copy(update={"seq": len(log) + j + 1, "session_id": sid}) for j, e in enumerate(extra or [])
    ]
    log.append(finished(len(log) + 1, session=sid, day=day))
    return digest_of_log(sid, log, POLICY)


def profile(*digests: dict, policy: Policy = POLICY) -> dict:
    p = build_profile(TENANT, PERSON, list(digests), policy)
    assert p is not None
    return p


def test_one_slip_is_not_frequent_but_two_sessions_are() -> None:
    """Min-support: a code in one session once stays out of top_errors; in two sessions it is in."""
    p = profile(session("s-1", 0, "slip"), session("s-2", 1, "e"), session("s-3", 2, "e"))
    assert p["top_errors"] == ["e"]
    assert {i["code"]: i["frequent"] for i in p["errors"]} == {"e": True, "slip": False}
    assert profile(session("s-1", 0, "x", "x", "x"))["top_errors"] == ["x"]


def test_recent_sessions_weigh_more() -> None:
    """Half-life 30 days: a session 30 days before the latest weighs 0.5; ranking follows weight."""
    p = profile(
        session("s-old", 0, "old", "old"),
        session("s-mid", 1, "old"),
        session("s-new", 30, "new", "new"),
        session("s-new2", 30, "new"),
    )
    weights = {s["session_id"]: s["weight"] for s in p["sessions"]}
    assert weights["s-new"] == 1.0 and abs(weights["s-old"] - 0.5) < 1e-9
    assert p["top_errors"] == ["new", "old"] and p["as_of"].startswith("2026-01-31")


def test_trend_compares_the_latest_session_with_the_earlier_ones() -> None:
    """One error in four turns before, four in four now: worsening; the reverse: improving."""
    worse = profile(session("a", 0, "e"), session("b", 1, "e"), session("c", 2, "e", "e", "e", "e"))
    better = profile(
        session("a", 0, "e", "e", "e", "e"), session("b", 1, "e", "e", "e"), session("c", 2, "e")
    )
    assert worse["errors"][0]["trend"] == "worsening" and better["errors"][0]["trend"] == "improving"
    assert profile(session("a", 0, "e", "e", "e"))["errors"][0]["trend"] == "new"


def test_unseen_errors_become_dormant_after_five_sessions() -> None:
    """A code absent from the latest five sessions is dormant."""
    digests = [session("s-0", 0, "gone", "gone", "gone")] + [session(f"s-{i}", i, "e") for i in range(1, 6)]
    items = {i["code"]: i for i in profile(*digests)["errors"]}
    assert items["gone"]["dormant"] is True and items["e"]["dormant"] is False


def test_an_error_and_a_strength_on_one_code_are_both_kept() -> None:
    """Conflict: both lists keep the code, marked, with net = W_strength - W_error."""
    p = profile(
        session("a", 0, "x", "x", "x"),
        session("b", 1, "x", "x", "x", kind="strength"),
        session("c", 2, "x", kind="strength"),
    )
    e, s = p["errors"][0], p["strengths"][0]
    assert e["conflict"] and s["conflict"] and e["net"] == s["net"]
    assert p["top_errors"] == ["x"] and p["top_strengths"] == ["x"]


def test_a_single_flag_always_reaches_compliance() -> None:
    """Compliance needs no support: one flagged turn is listed, high severity first."""
    p = profile(
        session("a", 0, "minor", kind="flag"),
        session("b", 1),
        session("c", 2, extra=[turn(1, 99, text="this is guaranteed", session="c", day=2)]),
    )
    assert p["compliance_flags"] == ["guarantee_language", "minor"]
    assert p["flags"][0]["severity"] == "high" and p["flags"][1]["severity"] == "medium"
    assert p["flags"][1]["status"] == "recent"


def test_facts_supersede_with_history_and_retractions_end_validity() -> None:
    """A new value for a key supersedes the old with history; other keys are untouched."""

    def facts_session(sid: str, day: int, *acts: dict) -> dict:
        return digest_of_log(
            sid,
            [turn(1, 1, session=sid, day=day, acts=list(acts)), finished(2, session=sid, day=day)],
            POLICY,
        )

    p = profile(
        facts_session(
            "a",
            0,
            {"op": "confirm_fact", "key": "contact", "value": "phone"},
            {"op": "confirm_fact", "key": "city", "value": "Oslo"},
        ),
        facts_session("b", 200, {"op": "confirm_fact", "key": "contact", "value": "email"}),
        facts_session("c", 201, {"op": "retract_fact", "key": "nothing"}),
    )
    facts = {f["key"]: f for f in p["facts"]}
    assert facts["contact"]["value"] == "email" and facts["contact"]["history"][0]["value"] == "phone"
    assert facts["city"]["value"] == "Oslo" and facts["city"]["stale"] is True
    assert facts["contact"]["stale"] is False and "nothing" not in facts


def test_summary_has_at_most_four_sentences_of_24_words() -> None:
    """The summary keeps the recap rule even with long configured labels."""
    labels = {"e": " ".join(["very"] * 40) + " long label"}
    p = profile(
        session("a", 0, "e", "e", "e", kind="error"),
        session("b", 1, "f", kind="flag"),
        session("c", 2, "s", "s", kind="strength"),
        policy=Policy(labels=labels),
    )
    sentences = [s for s in p["summary"].replace("…", "….").split(". ") if s]
    assert len(sentences) <= 4
    assert all(len(s.split()) <= 24 for s in sentences)


@FAST
@given(st.lists(sessions(restores=True), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_order_readding_and_forgetting(logs: list, rnd: random.Random) -> None:
    """Digest order never matters; consolidating a digest twice changes nothing; forgetting a
    session gives the profile that never had it, byte for byte."""
    digests = []
    for i, log in enumerate(logs):
        sid = f"s-{i}"
        log = [
            e.model_copy(update={"session_id": sid, "occurred_at": e.occurred_at.replace(day=1 + i)})
            for e in log
        ]
        digests.append(digest_of_log(sid, log, POLICY))
    base = profile(*digests)
    shuffled = digests[:]
    rnd.shuffle(shuffled)
    assert profile(*shuffled) == base
    assert profile(*digests, *digests)["content_hash"] == base["content_hash"]
    if len(digests) > 1:
        forgotten = build_profile(TENANT, PERSON, digests, POLICY, forgotten=frozenset({"s-0"}))
        assert forgotten == profile(*digests[1:])


def test_a_later_session_never_weighs_less() -> None:
    """Moving a session later (closer to the reference) never lowers its weight."""
    base = [session("a", 0, "e"), session("z", 40, "e")]
    for day in range(0, 40, 5):
        moved = profile(*base, session("m", day, "e"))
        later = profile(*base, session("m", day + 5, "e"))
        w = {s["session_id"]: s["weight"] for s in moved["sessions"]}["m"]
        w2 = {s["session_id"]: s["weight"] for s in later["sessions"]}["m"]
        assert w2 >= w


def test_no_session_no_profile() -> None:
    """Without digests there is no profile (the API answers 404)."""
    assert build_profile(TENANT, PERSON, [], POLICY) is None
