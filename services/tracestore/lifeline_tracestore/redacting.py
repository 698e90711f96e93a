"""Redaction on the way into trace-store: nothing unredacted is stored (on by default).

Events are redacted BEFORE they are folded, with the platform's one redaction library
(`lifeline_events.redaction`, the same placeholders as snapshot's exports): every string
of a session's context comes from its events, so the fold of redacted events onto the
(redacted) running state is a redacted context by construction, and re-running the
fold over the stored events rebuilds exactly the stored context (which is why only anchor
rows need to store one: contexts.py). Redacting each whole
context after the fold instead cost ~1.8 ms of CPU per event (issue 10). An event whose
redacted form no longer validates (a placeholder longer than a field allows) is folded
as delivered and the contexts of its session are redacted whole, as before (that run
then stores every row's context: folding its stored events would not give them).
What was redacted is counted per kind (`lifeline_tracestore_redactions_total`).
`LIFELINE_TRACE_REDACTION=false` stores what arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import orjson

from lifeline_events import Event, EventValidationError
from lifeline_events.redaction import redact, redact_scope_id
from lifeline_tracestore.domain import TraceRow
from lifeline_tracestore.metrics import REDACTIONS


class Redactor:
    """Redacts trace rows (a no-op when disabled); counts per kind."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def events(self, events: Sequence[Event], raws: Sequence[bytes]
               ) -> tuple[Sequence[Event], Sequence[bytes], bool]:
        """The events and their JSON, redacted; False when one could not be (see above)."""
        if not self.enabled:
            return events, raws, True
        counts: Counter[str] = Counter()
        out_events, out_raws, whole = list(events), list(raws), True
        for i, raw in enumerate(raws):
            doc = orjson.loads(raw)
            cleaned = redact(doc, counts)
            if cleaned == doc:
                continue
            try:
                out_events[i] = Event.from_json(cleaned)
            except EventValidationError:
                whole = False
                continue
            out_raws[i] = orjson.dumps(cleaned, option=orjson.OPT_SORT_KEYS)
        for kind, n in counts.items():
            REDACTIONS.labels(kind).inc(n)
        return out_events, out_raws, whole

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
