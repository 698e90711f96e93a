"""The recap: 2–6 sentences of at most 24 words, deterministic, in the documented order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_events import Episode, Objective, PinnedItem, SessionState, TurnRecord
from lifeline_snapshot.recap import MAX_SENTENCES, MAX_WORDS, MIN_SENTENCES, build_recap

PROPS = settings(max_examples=150, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

free_text = st.text(st.characters(codec="utf-8"), max_size=300)
wordy = st.lists(st.sampled_from(["veneers", "price", "Anna", "a.", "ok!", "x" * 90, "?", "…", ";"]),
                 max_size=60).map(" ".join)
texts = st.one_of(free_text, wordy)
seqs = st.integers(0, 10_000)

states = st.builds(
    lambda turns, pins, episodes, objectives, stage, finished, count: SessionState(
        recent_turns=tuple(turns), pins=tuple(pins), episodes=tuple(episodes),
        objectives=tuple(objectives), stage=stage, finished=finished, turn_count=count),
    st.lists(st.builds(TurnRecord, seq=seqs, role=st.sampled_from(["user", "assistant", "tool"]), text=texts),
             max_size=30),
    st.lists(st.builds(PinnedItem, id=st.text(min_size=1, max_size=5), text=texts, seq=seqs), max_size=8),
    st.lists(st.builds(Episode, text=texts, salience=st.floats(0, 1), seq=seqs), max_size=8),
    st.lists(st.builds(Objective, id=st.text(min_size=1, max_size=5), text=texts,
                       priority=st.integers(-5, 5), seq=seqs), max_size=8),
    st.one_of(st.none(), texts.filter(bool)),
    st.booleans(),
    st.integers(0, 10**6),
)


@PROPS
@given(states, st.integers(-3, 80))
def test_sentence_count_and_word_limits_always_hold(state: SessionState, k: int) -> None:
    """Whatever the state and K: 2–6 non-empty sentences, none longer than 24 words."""
    recap = build_recap(state, k)
    assert MIN_SENTENCES <= len(recap.sentences) <= MAX_SENTENCES
    for sentence in recap.sentences:
        assert 1 <= len(sentence.split()) <= MAX_WORDS, sentence
        assert sentence[-1] in ".…"


@PROPS
@given(states, st.integers(0, 20))
def test_same_state_gives_the_same_bytes(state: SessionState, k: int) -> None:
    """Recaps are deterministic: a state rebuilt from its JSON gives the identical text."""
    again = SessionState.model_validate_json(state.model_dump_json())
    assert build_recap(state, k).text.encode() == build_recap(again, k).text.encode()


def test_pins_come_newest_first() -> None:
    """Warm pins are listed newest first, whatever order the state holds them in."""
    state = SessionState(pins=(PinnedItem(id="a", text="old pin", seq=1),
                               PinnedItem(id="b", text="new pin", seq=9)))
    assert "Pinned: new pin; old pin." in build_recap(state).sentences


def test_episodes_by_salience_then_recency() -> None:
    """Episodes: higher salience first; equal salience, the more recent first."""
    state = SessionState(episodes=(Episode(text="minor", salience=0.2, seq=9),
                                   Episode(text="early big", salience=0.9, seq=1),
                                   Episode(text="late big", salience=0.9, seq=5)))
    assert "Key moments: late big; early big; minor." in build_recap(state).sentences


def test_objectives_by_priority() -> None:
    """Open objectives are listed by priority, highest first."""
    state = SessionState(objectives=(Objective(id="a", text="low", priority=1, seq=1),
                                     Objective(id="b", text="high", priority=5, seq=2)))
    assert build_recap(state).sentences[-1] == "Open objectives: high; low."


def test_last_k_turns_oldest_first() -> None:
    """Exactly the last K turns appear, oldest first, with who said them."""
    turns = tuple(TurnRecord(seq=i, role="user" if i % 2 else "assistant", text=f"turn {i}")
                  for i in range(1, 9))
    recap = build_recap(SessionState(recent_turns=turns, turn_count=8), last_turns=2)
    assert recap.sentences[1:] == ("Recently, User: turn 7.", "Then, Assistant: turn 8.")
    assert "turn 6" not in recap.text


def test_empty_session_still_has_two_sentences() -> None:
    """A session with nothing to say still gets the minimum of two sentences."""
    assert build_recap(SessionState(), 3).sentences == (
        "The session has 0 turns so far.", "Nothing has been pinned, remembered or planned yet.")


def test_long_text_is_cut_with_an_ellipsis() -> None:
    """A pin longer than the budget is cut and marked, never spilling past 24 words."""
    state = SessionState(pins=(PinnedItem(id="a", text=" ".join(["word"] * 100), seq=1),))
    sentence = build_recap(state).sentences[1]
    assert sentence.endswith("…") and len(sentence.split()) <= MAX_WORDS
