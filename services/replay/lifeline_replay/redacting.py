"""Redaction of replay's output on request: `GET …/context?redact=true` and `…/ws?redact=true`.

The window goes through the platform's one redaction library (`lifeline_events.redaction`),
so a placeholder reads the same as in snapshot's exports and trace-store
(`[redacted:email]`); ids, roles and times are left as they are. What was redacted is
counted per kind in `lifeline_replay_redactions_total`. Token figures stay those of the
assembled window: a placeholder is about as long as what it replaces.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from lifeline_events.redaction import redact
from lifeline_replay.metrics import REDACTIONS


def redact_window(window: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """The window with secrets and personal data replaced, and the count per kind."""
    counts: Counter[str] = Counter()
    cleaned = redact(window, counts)
    for kind, n in counts.items():
        REDACTIONS.labels(kind).inc(n)
    return cleaned, dict(sorted(counts.items()))


def redact_message(body: bytes) -> bytes:
    """A WebSocket message (RECOVERY_SYNC, EVENT) with the same redaction, counted the same way."""
    cleaned, _ = redact_window(orjson.loads(body))
    return orjson.dumps(cleaned)
