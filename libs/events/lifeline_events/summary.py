"""S2: the compressed summary of turns that fell out of the S1 window.

Turns leaving the last-K window are split into sentences, each kept with a salience;
when the rendered summary exceeds its token budget, the least salient sentences go
first (oldest first among equals). The result depends only on the lines and the
budget, so every replica renders the same summary, and it never exceeds the budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from .salience import score_text
from .state import SummaryLine, TurnRecord

MAX_SENTENCE_WORDS = 40
"""Longer sentences are cut (with an ellipsis) before they enter the summary."""

CHARS_PER_TOKEN = 4
_SPLIT = re.compile(r"(?<=[.!?]) ")
_ELLIPSIS = "…"
_SEPARATOR = " "


def estimate_tokens(text: str) -> int:
    """Approximate token count: ``ceil(len(text) / 4)``.

    Deterministic and provider-neutral; close enough to BPE tokenisers for English
    to size a budget, and cheap enough to run on every fold step.
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def split_sentences(text: str) -> list[str]:
    """Split on sentence-ending punctuation, normalise whitespace, cap sentence length."""
    # str.split() and re's \s agree on what whitespace is, so this is \s+ -> " ", stripped
    normalised = " ".join(text.split())
    if not normalised:
        return []
    sentences = _SPLIT.split(normalised)
    for i, raw in enumerate(sentences):
        if raw.count(" ") >= MAX_SENTENCE_WORDS:
            sentences[i] = " ".join(raw.split(" ")[:MAX_SENTENCE_WORDS]) + _ELLIPSIS
    return sentences


def turn_lines(turn: TurnRecord) -> list[SummaryLine]:
    """A turn as summary lines (``"User: …"``), salience blended from turn and sentence."""
    speaker = turn.role.capitalize()
    turn_part = 0.6 * turn.salience
    return [
        SummaryLine(
            seq=turn.seq,
            text=f"{speaker}: {sentence}",
            salience=round(turn_part + 0.4 * score_text(sentence), 4),
        )
        for sentence in split_sentences(turn.text)
    ]


def render(lines: Iterable[SummaryLine]) -> str:
    """The summary text: lines in order, space-separated."""
    return _SEPARATOR.join([line.text for line in lines])


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    if max_chars <= len(_ELLIPSIS):
        return text[:max_chars]
    cut = text[: max_chars - len(_ELLIPSIS)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + _ELLIPSIS


def _compress_rendered(
    lines: Sequence[SummaryLine], budget_tokens: int
) -> tuple[tuple[SummaryLine, ...], str]:
    """``compress`` and ``render`` of its result, sharing one pass over the texts."""
    max_chars = budget_tokens * CHARS_PER_TOKEN
    texts = [line.text for line in lines]
    text = _SEPARATOR.join(texts)
    total = len(text)
    if total <= max_chars:
        return tuple(lines), text
    eviction_order = sorted((line.salience, line.seq, i) for i, line in enumerate(lines))
    last_one = len(lines) - 1
    dropped: set[int] = set()
    for _, _, i in eviction_order:
        if total <= max_chars or len(dropped) == last_one:
            break
        dropped.add(i)
        total -= len(texts[i]) + len(_SEPARATOR)
    survivors = tuple([line for i, line in enumerate(lines) if i not in dropped])
    if len(survivors) == 1 and len(survivors[0].text) > max_chars:
        only = survivors[0]
        survivors = (only.model_copy(update={"text": _truncate(only.text, max_chars)}),)
    return survivors, render(survivors)


def compress(lines: Sequence[SummaryLine], budget_tokens: int) -> tuple[SummaryLine, ...]:
    """Drop the least salient lines (oldest first among ties) until ``render`` fits.

    Survivors keep their order. If even the most salient line alone is too long, it is
    truncated at a word boundary with an ellipsis.
    """
    return _compress_rendered(lines, budget_tokens)[0]


def fold_turns_into_summary(
    lines: Sequence[SummaryLine], evicted: Iterable[TurnRecord], budget_tokens: int
) -> tuple[tuple[SummaryLine, ...], str]:
    """Add the evicted turns' lines to the summary and compress it to the budget."""
    merged = list(lines)
    for turn in evicted:
        merged.extend(turn_lines(turn))
    return _compress_rendered(merged, budget_tokens)
