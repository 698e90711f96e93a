"""Salience scoring and S2 summary compression: deterministic, bounded, pluggable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lifeline_events import RuleBasedScorer, TurnRecorded, estimate_tokens, score_turn
from lifeline_events.salience import _FACTY, _MID_SENTENCE_CAPITAL, _named_tokens
from lifeline_events.state import SummaryLine, TurnRecord
from lifeline_events.summary import compress, render, split_sentences, turn_lines


def _payload(text: str = "ok", **kw) -> TurnRecorded:
    return TurnRecorded(role=kw.pop("role", "user"), text=text, **kw)


def test_score_is_in_unit_range_and_deterministic() -> None:
    """score_turn returns the same value in [0, 1] for the same payload."""
    payload = _payload("Anna wants veneers? " * 200, acts=[{"op": "flag", "name": "x"}] * 10)
    first = score_turn(payload)
    assert 0.0 <= first <= 1.0 and score_turn(payload) == first


def test_acts_raise_salience() -> None:
    """A turn with state-changing acts scores higher than the same text without."""
    plain = _payload("noted")
    acting = _payload("noted", acts=[{"op": "confirm_fact", "key": "k", "value": 1}])
    assert score_turn(acting) > score_turn(plain)


def test_questions_named_facts_and_flags_raise_salience() -> None:
    """Questions, named facts (numbers, names) and flags each raise salience."""
    base = score_turn(_payload("we talked a bit"))
    assert score_turn(_payload("we talked a bit?")) > base
    assert score_turn(_payload("we talked with Anna on 12 March")) > base
    assert score_turn(_payload("we talked a bit", acts=[{"op": "flag", "name": "risk"}])) > base


def test_length_raises_salience_up_to_a_cap() -> None:
    """Longer text scores higher, but length alone saturates."""
    short, longer = score_turn(_payload("word " * 5)), score_turn(_payload("word " * 50))
    assert longer > short
    assert score_turn(_payload("word " * 3000)) == score_turn(_payload("word " * 6000))


def test_scorer_is_pluggable_and_clamped() -> None:
    """A custom Scorer is used, and its output is clamped to [0, 1]."""

    class Loud:
        def score(self, payload: TurnRecorded) -> float:
            return 7.0

    assert score_turn(_payload(), Loud()) == 1.0
    assert score_turn(_payload(), RuleBasedScorer(base=0.0, per_word=0.0)) == 0.0


def test_estimate_tokens_is_ceil_chars_over_four() -> None:
    """estimate_tokens is ceil(len/4)."""
    assert [estimate_tokens(t) for t in ["", "a", "abcd", "abcde"]] == [0, 1, 1, 2]


def test_split_sentences_normalises_and_caps_length() -> None:
    """Sentences split on .!? with whitespace collapsed; long ones are cut with an ellipsis."""
    assert split_sentences("One.  Two?\nThree!") == ["One.", "Two?", "Three!"]
    (long,) = split_sentences("w " * 100)
    assert long.endswith("…") and len(long.split(" ")) == 40


def test_turn_lines_prefix_role_and_blend_salience() -> None:
    """Each sentence becomes a role-prefixed line carrying the turn's seq."""
    turn = TurnRecord(seq=4, role="assistant", text="Sure. When?", salience=1.0)
    lines = turn_lines(turn)
    assert [line.text for line in lines] == ["Assistant: Sure.", "Assistant: When?"]
    assert all(line.seq == 4 and 0 < line.salience <= 1 for line in lines)


def test_compress_drops_lowest_salience_then_oldest() -> None:
    """compress evicts least salient first, oldest among ties, keeping order."""
    lines = [SummaryLine(seq=i, text=f"line number {i}", salience=s)
             for i, s in enumerate([0.5, 0.1, 0.9, 0.1], start=1)]
    kept = compress(lines, budget_tokens=8)
    assert [line.seq for line in kept] == [1, 3]
    assert estimate_tokens(render(kept)) <= 8


def test_compress_truncates_a_single_oversize_line() -> None:
    """A single line larger than the budget is cut at a word boundary with an ellipsis."""
    kept = compress([SummaryLine(seq=1, text="alpha beta gamma delta " * 10, salience=1)], 8)
    assert len(kept) == 1 and kept[0].text.endswith("…")
    assert estimate_tokens(render(kept)) <= 8


def test_compress_within_budget_keeps_everything() -> None:
    """Lines that already fit are returned unchanged."""
    lines = [SummaryLine(seq=1, text="a", salience=0.1), SummaryLine(seq=2, text="b", salience=0)]
    assert compress(lines, 8) == tuple(lines)


@given(st.text(alphabet="ab :/@1٣.?!ZA \t\n\u00a0\u2003\x1c\x85", max_size=24))
def test_named_token_count_equals_the_full_scans(text: str) -> None:
    """The cheap pre-checks skip a scan only when that scan would count nothing."""
    full = len(_FACTY.findall(text)) + len(_MID_SENTENCE_CAPITAL.findall(text))
    assert _named_tokens(text) == full
