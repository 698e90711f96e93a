"""A deterministic recap of a session: 2–6 sentences of at most 24 words each.

Built only from the folded state, so the same events always give the same bytes:
an opening line (turns so far, stage), then warm pins (newest first), episodic
memory (salience, then recency), the last K turns and the open objectives (by
priority). Every piece goes through `_sentence`, which is the one place the word
limit is enforced; a "word" is a whitespace-separated token (`str.split()`).
Sorting is done here, not trusted from the state, and ties break on stable keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lifeline_events import SessionState, TurnRecord

MIN_SENTENCES = 2
MAX_SENTENCES = 6
MAX_WORDS = 24
ITEM_WORDS = 8
"""Words kept of one pin, episode or objective, so a sentence can list several."""
MAX_ITEMS = 3
MAX_WORD_CHARS = 40
ELLIPSIS = "…"
_MIN_WORDS_PER_TURN = 3
_TRAILING = ".!?;:,…"


@dataclass(frozen=True)
class Recap:
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _words(text: str, limit: int | None = None) -> list[str]:
    """Whitespace-split `text`, shorten over-long tokens, keep at most `limit` words."""
    words = [w if len(w) <= MAX_WORD_CHARS else w[: MAX_WORD_CHARS - 1] + ELLIPSIS for w in text.split()]
    if words:
        words[-1] = words[-1].rstrip(_TRAILING) or words[-1]
    if limit is not None and len(words) > limit:
        words = words[:limit]
        words[-1] = words[-1].rstrip(_TRAILING) + ELLIPSIS
    return words


def _sentence(prefix: str, fragments: Sequence[list[str]]) -> str | None:
    """`prefix` then the non-empty fragments joined by ';', cut to MAX_WORDS, punctuated."""
    parts = [f for f in fragments if f]
    if not parts:
        return None
    words = prefix.split()
    for i, fragment in enumerate(parts):
        if i > 0:
            words[-1] += ";"
        words.extend(fragment)
    return _finish(words)


def _finish(words: list[str]) -> str:
    """Cut to MAX_WORDS (ending in an ellipsis) or end with a full stop."""
    if len(words) > MAX_WORDS:
        words = words[:MAX_WORDS]
        words[-1] = words[-1].rstrip(_TRAILING) + ELLIPSIS
        return " ".join(words)
    text = " ".join(words)
    if text.endswith(ELLIPSIS):
        return text
    return (text.rstrip(".!?;:, ") or text) + "."


def _opening(state: SessionState) -> str:
    n = state.turn_count
    turns = f"{n} turn{'' if n == 1 else 's'}"
    head = f"The session finished after {turns}" if state.finished else f"The session has {turns} so far"
    stage = f", in the {' '.join(_words(state.stage, ITEM_WORDS))} stage" if state.stage else ""
    return _finish((head + stage).split())


def _listing(prefix: str, texts: Sequence[str]) -> str | None:
    return _sentence(prefix, [_words(t, ITEM_WORDS) for t in texts[:MAX_ITEMS]])


def _pins(state: SessionState) -> str | None:
    pins = sorted(state.pins, key=lambda p: (-p.seq, p.id))
    return _listing("Pinned:", [p.text for p in pins])


def _episodes(state: SessionState) -> str | None:
    episodes = sorted(state.episodes, key=lambda e: (-e.salience, -e.seq, e.text))
    return _listing("Key moments:", [e.text for e in episodes])


def _objectives(state: SessionState) -> str | None:
    objectives = sorted(state.objectives, key=lambda o: (-o.priority, o.seq, o.id))
    return _listing("Open objectives:", [o.text or o.id for o in objectives])


def _turn_fragment(turn: TurnRecord, budget: int) -> list[str]:
    role = turn.role.capitalize() + ":"
    return [role, *_words(turn.text, max(1, budget - 1))]


def _turns(state: SessionState, last_turns: int, slots: int) -> list[str]:
    """The last K turns over at most `slots` sentences, oldest first, whole turns only."""
    per_sentence = (MAX_WORDS - 2) // _MIN_WORDS_PER_TURN
    k = min(max(last_turns, 0), len(state.recent_turns), slots * per_sentence)
    turns = list(state.recent_turns[len(state.recent_turns) - k:]) if k else []
    if not turns:
        return []
    groups = min(slots, len(turns))
    size, extra = divmod(len(turns), groups)
    out, start = [], 0
    for g in range(groups):
        chunk = turns[start: start + size + (1 if g < extra else 0)]
        start += len(chunk)
        prefix = "Recently," if g == 0 else "Then,"
        budget = (MAX_WORDS - len(prefix.split())) // len(chunk)
        sentence = _sentence(prefix, [_turn_fragment(t, budget) for t in chunk])
        if sentence:
            out.append(sentence)
    return out


def build_recap(state: SessionState, last_turns: int = 3) -> Recap:
    """The recap of `state` with its last `last_turns` turns; always 2–6 sentences."""
    pins, episodes, objectives = _pins(state), _episodes(state), _objectives(state)
    fixed = [s for s in (pins, episodes, objectives) if s]
    slots = MAX_SENTENCES - 1 - len(fixed)
    turns = _turns(state, last_turns, slots)
    sentences = [_opening(state), *(s for s in (pins, episodes) if s), *turns]
    if objectives:
        sentences.append(objectives)
    if len(sentences) < MIN_SENTENCES:
        sentences.append("Nothing has been pinned, remembered or planned yet.")
    return Recap(tuple(sentences))

