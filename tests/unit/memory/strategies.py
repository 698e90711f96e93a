"""Hypothesis strategies: whole sessions with acts, grades, re-grades and nested restores."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from lifeline_events import Event

from .builders import finished, grade, restore, turn

CODES = ["e1", "e2", "e3"]
INTENTS = [None, "pricing", "booking"]


@st.composite
def sessions(
    draw: Any,
    session: str = "s-1",
    day: int = 0,
    restores: bool = True,
    grades: bool = True,
    finish: bool = True,
) -> list[Event]:
    """A valid session log in seq order (1..n)."""
    log: list[Event] = []
    turn_id = 0
    for _ in range(draw(st.integers(1, 14))):
        seq = len(log) + 1
        options = (
            ["turn", "turn"]
            + (["grade"] if grades and turn_id else [])
            + (["restore"] if restores and seq > 2 else [])
        )
        step = draw(st.sampled_from(options))
        if step == "turn":
            turn_id += 1
            acts = [
                {"op": draw(st.sampled_from(["error", "strength"])), "code": draw(st.sampled_from(CODES))}
                for _ in range(draw(st.integers(0, 2)))
            ]
            if draw(st.booleans()):
                acts.append({"op": "confirm_fact", "key": "k", "value": draw(st.integers(0, 2))})
            log.append(
                turn(
                    seq,
                    turn_id,
                    role=draw(st.sampled_from(["user", "assistant"])),
                    intent=draw(st.sampled_from(INTENTS)),
                    acts=acts,
                    session=session,
                    day=day,
                )
            )
        elif step == "grade":
            log.append(
                grade(
                    seq,
                    draw(st.integers(1, turn_id)),
                    grader=draw(st.sampled_from(["a", "b"])),
                    errors=draw(st.lists(st.sampled_from(CODES), max_size=2, unique=True)),
                    skill_tags=draw(st.lists(st.sampled_from(CODES), max_size=1)),
                    session=session,
                    day=day,
                )
            )
        else:
            log.append(restore(seq, log, draw(st.integers(1, seq - 1)), session=session, day=day))
    if finish:
        log.append(finished(len(log) + 1, session=session, day=day))
    return log


@st.composite
def deliveries(draw: Any, log: list[Event]) -> list[list[Event]]:
    """The log as the bus may deliver it: shuffled, duplicated, cut into batches."""
    pool = list(log) + draw(st.lists(st.sampled_from(log), max_size=len(log)))
    pool = draw(st.permutations(pool))
    cuts = sorted(draw(st.lists(st.integers(0, len(pool)), max_size=5)))
    bounds = [0, *cuts, len(pool)]
    return [pool[a:b] for a, b in pairwise(bounds) if b > a]
