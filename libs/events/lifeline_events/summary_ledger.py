"""The S2 summary's eviction bookkeeping, carried from one fold step to the next.

Every turn that leaves the S1 window adds its lines to the summary, and the summary is
compressed to its budget again: least salient lines first, oldest first among equals
(``summary.compress``). Done from scratch, each step reads every line's text, salience
and seq and sorts them all — ~14 µs of a ~54 µs fold step on this machine, paid by every
consumer that folds (replay, snapshot, trace-store) for every turn of a long session.

The summary a step returns is the one the next step of that session starts from (the
consumers keep the folded state in memory between batches), so this module keeps, for
each summary tuple it returned, its texts, its total rendered length and its lines'
eviction keys already sorted. The next step adds the new lines' keys (a merge of two
sorted runs) and drops from the front of that order; nothing is re-read or re-sorted.

The answer is the same as ``summary._compress_rendered`` gives (a property test folds
long random sessions both ways): the eviction key there is (salience, seq, position); here
it is (salience, seq, rank), where a line's rank is its position when the ledger first saw
it, and later lines get higher ranks. Ranks grow with position and dropping lines keeps
the survivors' order, so the two keys order lines alike. A summary the ledger does not
know (a state read from storage, a step after a rolled-back batch) starts a new ledger
from its lines: the cost of the plain path, once.

Bounded: at most ``LEDGERS`` summaries are known (least recently used go first); a ledger
is forgotten once its summary has been folded on, as the next one replaces it. Each holds
its tuple, so a tuple's ``id`` cannot be reused by another while it is known.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from .state import SummaryLine

LEDGERS = 2048
"""Summaries known at once: above the sessions a consumer keeps folded in memory (512)."""

Key = tuple[float, int, int]


@dataclass(frozen=True, slots=True)
class _Ledger:
    lines: tuple[SummaryLine, ...]
    texts: list[str]
    ranks: list[int]
    """Per position, ascending."""
    keys: list[Key]
    """(salience, seq, rank) of every line, sorted: the eviction order."""
    length: int
    """len(render(lines))."""


_known: OrderedDict[int, _Ledger] = OrderedDict()


def _ledger_of(lines: Sequence[SummaryLine]) -> _Ledger:
    """The ledger of `lines` as last returned (and forget it), or a new one."""
    known = _known.pop(id(lines), None)
    if known is not None and known.lines is lines:
        return known
    texts = [line.text for line in lines]
    ranks = list(range(len(texts)))
    keys = sorted(zip([line.salience for line in lines], [line.seq for line in lines], ranks, strict=True))
    return _Ledger(tuple(lines), texts, ranks, keys, len(" ".join(texts)))


def _remember(ledger: _Ledger) -> None:
    _known[id(ledger.lines)] = ledger
    if len(_known) > LEDGERS:
        _known.popitem(last=False)


def compress_added(lines: Sequence[SummaryLine], added: Sequence[SummaryLine], max_chars: int
                   ) -> tuple[tuple[SummaryLine, ...], str] | None:
    """`lines` + `added`, compressed to `max_chars` rendered, with its rendering.

    None when only one line would remain and it is still too long: the caller truncates
    it (``summary._compress_rendered``), which this ledger does not model.
    """
    ledger = _ledger_of(lines)  # forgotten: its lists are this step's to change
    texts, ranks, keys = ledger.texts, ledger.ranks, ledger.keys
    fresh = [line.text for line in added]
    length = ledger.length + sum(len(text) + 1 for text in fresh) - (1 if fresh and not texts else 0)
    first = ranks[-1] + 1 if ranks else 0
    fresh_ranks = range(first, first + len(fresh))
    keys += zip([line.salience for line in added], [line.seq for line in added], fresh_ranks, strict=True)
    keys.sort()  # a sorted run and a short one: one merge
    texts += fresh
    ranks += fresh_ranks
    merged = [*ledger.lines, *added]
    dropped: list[int] = []
    last_one = len(merged) - 1
    while length > max_chars and len(dropped) < last_one:
        at = bisect_left(ranks, keys[len(dropped)][2])
        dropped.append(at)
        length -= len(texts[at]) + 1
    if length > max_chars:
        return None
    if dropped:
        del keys[:len(dropped)]  # the dropped lines are the front of the eviction order
        for at in sorted(dropped, reverse=True):
            del merged[at], texts[at], ranks[at]
    kept = tuple(merged)
    _remember(_Ledger(kept, texts, ranks, keys, length))
    return kept, " ".join(texts)
