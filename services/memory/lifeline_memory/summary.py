"""The profile's summary: at most four fixed-template sentences of at most 24 words (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .policy import Policy
from .texts import MAX_SENTENCES, day, sentence, times


def profile_summary(profile: dict[str, Any], sessions: Sequence[dict[str, Any]], policy: Policy) -> str:
    """Most frequent issue; strengths; compliance; latest session — in that order."""
    n = profile["sessions_count"]
    since = day(sessions[0]["finished_at"])
    plural = "session" if n == 1 else "sessions"
    frequent = [e for e in profile["errors"] if e["frequent"]]
    if frequent:
        e = frequent[0]
        first = (
            f"Across {n} {plural} since {since}, the most frequent issue is {e['label']} "
            f"({e['sessions']} of {n} {plural})"
        )
    else:
        first = f"Across {n} {plural} since {since}, no issue is frequent yet"
    out = [sentence(first)]
    strengths = [s["label"] for s in profile["strengths"] if s["frequent"]][:3]
    if strengths:
        out.append(sentence("Strengths: " + ", ".join(strengths)))
    if profile["flags"]:
        f = profile["flags"][0]
        more = len(profile["flags"]) - 1
        tail = f" ({more} other flag{'s' if more != 1 else ''})" if more else ""
        out.append(
            sentence(
                f"Compliance: {f['label']} was flagged {times(f['occurrences'])}, "
                f"last on {day(f['last_seen'])}{tail}"
            )
        )
    latest = sessions[-1]
    mostly = f", mostly {latest['top_intent']}" if latest.get("top_intent") else ""
    out.append(sentence(f"Latest session {day(latest['finished_at'])}: {latest['turns']} turns{mostly}"))
    return " ".join(out[:MAX_SENTENCES])
