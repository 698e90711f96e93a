"""Redaction on the way into trace-store: nothing unredacted is stored (on by default).

Every trace row — the event as delivered, the context after it and the person id —
goes through the platform's one redaction library (`lifeline_events.redaction`, the
same placeholders as snapshot's exports) before it is written; the session's running
state is kept redacted too, so no table of trace-store holds a secret or personal data.
What was redacted is counted per kind (`lifeline_tracestore_redactions_total`).
`LIFELINE_TRACE_REDACTION=false` stores what arrives, as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import orjson

from lifeline_events.redaction import redact, redact_scope_id
from lifeline_tracestore.domain import TraceRow
from lifeline_tracestore.metrics import REDACTIONS


class Redactor:
    """Redacts trace rows (a no-op when disabled); counts per kind."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def rows(self, rows: Sequence[TraceRow]) -> list[TraceRow]:
        if not self.enabled:
            return list(rows)
        counts: Counter[str] = Counter()
        cleaned = [self._row(row, counts) for row in rows]
        for kind, n in counts.items():
            REDACTIONS.labels(kind).inc(n)
        return cleaned

    @staticmethod
    def _row(row: TraceRow, counts: Counter[str]) -> TraceRow:
        context = _json(row.context_snapshot, counts) if row.context_snapshot else row.context_snapshot
        return replace(row, event_data=_json(row.event_data, counts), context_snapshot=context,
                       person_id=redact_scope_id(row.person_id, counts))


def _json(text: str, counts: Counter[str]) -> str:
    """`text` redacted; the very same text when there was nothing to redact."""
    value = orjson.loads(text)
    cleaned = redact(value, counts)
    return text if cleaned == value else orjson.dumps(cleaned, option=orjson.OPT_SORT_KEYS).decode()
