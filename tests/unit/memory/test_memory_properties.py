"""Properties: redelivery, re-batching and order never change a digest; restores follow the fold."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_events import fold
from lifeline_memory.consolidation import absorb, digest_of_log
from lifeline_memory.digest import digest_hash, seal
from lifeline_memory.liveness import live_at
from lifeline_memory.policy import Policy
from lifeline_memory.scalars import SessionScalars

from .strategies import deliveries, sessions

POLICY = Policy()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def project(batches: list, log: list) -> dict:
    """What the projection does: per batch, fresh events past the checkpoint, gaps healed
    from the log (ingest), absorbed; observations stored as a set; sealed at the end."""
    by_seq = {e.seq: e for e in log}
    scalars, stored = SessionScalars(), {}
    for batch in batches:
        fresh = [e for e in batch if e.seq > scalars.seq]
        if not fresh:
            continue
        top = max(e.seq for e in fresh)
        run = [by_seq[s] for s in range(scalars.seq + 1, top + 1)]
        scalars, found = absorb(scalars, run, POLICY.rules)
        for o in found:
            stored.setdefault(o.key, o)
    observations = list(stored.values())
    random.Random(len(observations)).shuffle(observations)
    return seal("s-1", observations, scalars, rules_hash=POLICY.rules_hash)


@FAST
@given(st.data())
def test_delivery_pattern_never_changes_the_digest(data: st.DataObject) -> None:
    """Any shuffle, duplication or batching of a session's events seals to the same bytes."""
    log = data.draw(sessions())
    batches = data.draw(deliveries(log))
    assert digest_hash(project(batches, log)) == digest_hash(digest_of_log("s-1", log, POLICY))


@FAST
@given(sessions(grades=False))
def test_restore_liveness_equals_the_folds_rollback(log: list) -> None:
    """Counting live act evidence per distinct turn gives the fold's counters whenever a code
    appears at most once per turn (the strategy's acts may repeat a code; dedupe first)."""
    state = fold(log)
    digest = digest_of_log("s-1", log, POLICY)
    for kind, counter in (("error", state.error_counts), ("strength", state.strength_counts)):
        ours = {i["code"]: i["n"] for i in digest["items"][kind]}
        per_turn_once = all(
            len([a for a in e.payload.acts if a.op == kind])
            == len({a.code for a in e.payload.acts if a.op == kind})
            for e in log
            if e.event_type == "turn.recorded"
        )
        if per_turn_once:
            assert ours == {k: v for k, v in counter.items() if v}


@FAST
@given(sessions(restores=False, grades=False))
def test_digest_counts_equal_a_naive_count_of_distinct_turns(log: list) -> None:
    """Without restores or grades, n(error, c) is the number of distinct turns naming c."""
    naive: dict[str, set[int]] = {}
    for e in log:
        if e.event_type == "turn.recorded":
            for a in e.payload.acts:
                if a.op == "error":
                    naive.setdefault(a.code, set()).add(e.turn_id)
    ours = {i["code"]: i["n"] for i in digest_of_log("s-1", log, POLICY)["items"]["error"]}
    assert ours == {c: len(t) for c, t in naive.items()}


@FAST
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(2, 40), st.integers(0, 39)), max_size=6))
def test_liveness_is_the_linearised_log(x: int, raw: list[tuple[int, int]]) -> None:
    """live_at agrees with replaying the log position by position: a restore (r, s) makes the
    visible set what was visible at s."""
    restores = dict(sorted({r: min(s, r - 1) for r, s in raw}.items()))
    history: list[frozenset[int]] = [frozenset()]
    for p in range(1, 42):
        history.append(history[restores[p]] if p in restores else history[-1] | {p})
    if x not in restores:
        assert live_at(x, sorted(restores.items())) == (x in history[-1])
