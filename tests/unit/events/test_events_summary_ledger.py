"""The summary's carried eviction order (`summary_ledger`) answers as folding from scratch does.

The ledger is only a memory of the last step's sorting: whatever order sessions are
folded in, whichever summary a step starts from (the last one returned, an older one
again after a rolled-back batch, an equal one read back from storage, a list), and however
few ledgers are kept, each step must give `compress` of all the lines, byte for byte.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifeline_events import summary_ledger
from lifeline_events.state import SummaryLine, TurnRecord
from lifeline_events.summary import compress, fold_turns_into_summary, render, turn_lines

from .test_events_fastpaths import PROPS, summary_lines, turn_records

Summary = tuple[SummaryLine, ...]


def scratch(lines: Summary, evicted: list[TurnRecord], budget: int) -> tuple[Summary, str]:
    kept = compress([*lines, *(line for t in evicted for line in turn_lines(t))], budget)
    return kept, render(kept)


# a step: which session, its evicted turns, and where it starts from (0: its latest
# summary, 1: the summary before that, 2: an equal copy of its latest, 3: as a list)
steps = st.lists(st.tuples(st.integers(0, 2), st.lists(turn_records, max_size=3), st.integers(0, 3)),
                 min_size=1, max_size=30)


@PROPS
@given(st.lists(summary_lines, max_size=6), steps, st.integers(8, 60), st.integers(1, 4))
def test_interleaved_sessions_and_restarts_fold_as_from_scratch(
    start: list[SummaryLine], plan: list[tuple[int, list[TurnRecord], int]], budget: int, kept: int,
) -> None:
    history: dict[int, list[Summary]] = {s: [tuple(start)] for s in range(3)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary_ledger, "LEDGERS", kept)
        for session, evicted, origin in plan:
            past = history[session]
            base = past[-2] if origin == 1 and len(past) > 1 else past[-1]
            given_lines: tuple[SummaryLine, ...] | list[SummaryLine] = base
            if origin == 2:
                given_lines = tuple(SummaryLine.model_validate(line.model_dump()) for line in base)
            elif origin == 3:
                given_lines = list(base)
            lines, text = fold_turns_into_summary(given_lines, evicted, budget)
            assert (lines, text) == scratch(base, evicted, budget)
            past.append(lines)


def test_a_truncated_last_line_is_folded_on_from_scratch() -> None:
    """A step that leaves one line cut to the budget is the plain path's; the next step too."""
    long = TurnRecord(seq=1, role="user", text=" ".join(["word"] * 30), salience=0.9)
    short = TurnRecord(seq=2, role="assistant", text="Fine.", salience=0.1)
    lines, text = fold_turns_into_summary((), [long], 10)
    assert text.endswith("…") and len(text) <= 40 and len(lines) == 1
    assert (lines, text) == scratch((), [long], 10)
    assert fold_turns_into_summary(lines, [short], 10) == scratch(lines, [short], 10)


def test_ledgers_are_bounded() -> None:
    """Folding many sessions once each keeps at most LEDGERS of them."""
    turn = TurnRecord(seq=1, role="user", text="Hello there. How are you?", salience=0.5)
    for session in range(summary_ledger.LEDGERS + 50):
        fold_turns_into_summary((SummaryLine(seq=0, text=f"s{session}", salience=0.1),), [turn], 64)
    assert len(summary_ledger._known) <= summary_ledger.LEDGERS
