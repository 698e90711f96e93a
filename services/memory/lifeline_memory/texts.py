"""Fixed sentence templates and labels (pure): no LLM, the same input gives the same words.

Every sentence is at most 24 words (the recap rule); a longer one is cut at a word
boundary, so a long configured label can never break the limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

MAX_WORDS = 24
MAX_SENTENCES = 4
_SEPARATORS = re.compile(r"[_\-]+")


def label_for(code: str, labels: Mapping[str, str]) -> str:
    """The phrase for a code: the configured one, else the code with ``_``/``-`` as spaces."""
    return labels.get(code) or _SEPARATORS.sub(" ", code).strip() or code


def sentence(text: str, max_words: int = MAX_WORDS) -> str:
    """``text`` as one sentence of at most ``max_words`` words, ending in a full stop."""
    words = text.split()
    if len(words) > max_words:
        words = words[:max_words]
        words[-1] = words[-1].rstrip(".,;:") + "…"
    out = " ".join(words)
    return out if out.endswith((".", "…", "!", "?")) else out + "."


def day(at: datetime | str) -> str:
    """``YYYY-MM-DD`` of a datetime or ISO string (UTC)."""
    return at[:10] if isinstance(at, str) else at.date().isoformat()


def times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def join_counts(pairs: list[tuple[str, int]]) -> str:
    return ", ".join(f"{code}×{n}" for code, n in pairs)
