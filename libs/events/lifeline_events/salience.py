"""Salience: how much a turn (or a sentence of one) matters for later context.

Ingest scores each turn once and stores the number in ``payload.salience``, so every
projection folds the same value; the fold falls back to the default scorer only for
events that arrived without one. Scorers must be deterministic (no clocks, no
randomness, no model calls whose output can change between replays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .payloads import TurnRecorded

_FACTY = re.compile(r"(?<!\S)(?=\S*?(?:[\d@]|://))")
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[^.!?\s])\s+[A-Z]")
# Necessary conditions of a match, found by a plain scan many times faster than the
# lookaround patterns above: text without them cannot match, so its count is 0.
_FACTY_HINT = re.compile(r"[\d@:]")
_CAPITAL_HINT = re.compile(r"\s[A-Z]")

_WEIGHTY_ACTS = frozenset(
    {"confirm_fact", "retract_fact", "set_objective", "complete_objective", "pin", "add_episode"}
)
_ALARM_ACTS = frozenset({"flag", "error"})


class Scorer(Protocol):
    """Anything that maps a turn payload to a salience in [0, 1], deterministically."""

    def score(self, payload: TurnRecorded) -> float:
        """Return the turn's salience in [0, 1]."""
        ...


def _clamp(value: float) -> float:
    """Clamp to [0, 1] and round so the stored value has a short, stable spelling."""
    return round(min(1.0, max(0.0, value)), 4)


def _named_tokens(text: str) -> int:
    """Count tokens that look like named facts: numbers, e-mails, URLs, names mid-sentence.

    Two regex scans instead of a per-word loop: this runs for every turn and every
    summary sentence on the fold's hot path.
    """
    count = 0
    if _FACTY_HINT.search(text) is not None:
        count += len(_FACTY.findall(text))
    if _CAPITAL_HINT.search(text) is not None:
        count += len(_MID_SENTENCE_CAPITAL.findall(text))
    return count


@dataclass(frozen=True)
class RuleBasedScorer:
    """The default scorer: a transparent sum of weighted features, clamped to [0, 1].

    Acts (state changes) weigh most, alarms (flags, errors) and failures next, then
    questions, named facts and length; every weight is a field so a deployment can
    tune it without code.
    """

    base: float = 0.1
    per_act: float = 0.1
    weighty_act: float = 0.05
    acts_cap: float = 0.4
    alarm: float = 0.15
    failure: float = 0.1
    question: float = 0.1
    per_named: float = 0.04
    named_cap: float = 0.16
    per_word: float = 0.002
    length_cap: float = 0.15
    system_factor: float = 0.5

    def score_text(self, text: str) -> float:
        """Score text alone (questions, named facts, length); used per sentence too."""
        words = len(text.split())
        value = self.base
        if "?" in text:
            value += self.question
        value += min(self.named_cap, self.per_named * _named_tokens(text))
        value += min(self.length_cap, self.per_word * words)
        return _clamp(value)

    def score(self, payload: TurnRecorded) -> float:
        """Score a whole turn: text features plus what its acts and outcome say."""
        value = self.score_text(payload.text)
        ops = [act.op for act in payload.acts]
        act_value = sum(
            self.per_act + (self.weighty_act if op in _WEIGHTY_ACTS else 0.0) for op in ops
        )
        value += min(self.acts_cap, act_value)
        if any(op in _ALARM_ACTS for op in ops):
            value += self.alarm
        if payload.success is False:
            value += self.failure
        if payload.role == "system":
            value *= self.system_factor
        return _clamp(value)


DEFAULT_SCORER = RuleBasedScorer()


def score_turn(payload: TurnRecorded, scorer: Scorer | None = None) -> float:
    """Salience of a turn in [0, 1] by ``scorer`` (default: ``RuleBasedScorer()``).

    The result is clamped and rounded, so a scorer that strays outside [0, 1] cannot
    corrupt state.
    """
    return _clamp((scorer or DEFAULT_SCORER).score(payload))


def score_text(text: str) -> float:
    """Salience of a piece of text by the default scorer's text features."""
    return DEFAULT_SCORER.score_text(text)
