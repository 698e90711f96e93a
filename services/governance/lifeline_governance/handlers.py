"""The projection of `lifeline.events.v1` into per-minute call buckets (batch-level apply).

`apply_batch` is called once per bus batch, inside the projection's transaction, with
only fresh, contiguous events per session: it folds every session's calls into bucket
deltas (merging a turn and its `model.call.recorded`), then writes all buckets and
cursors of the batch in two statements. The checkpoint advancing in the same
transaction is what makes a redelivered batch add nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from prometheus_client import Counter

from lifeline_events import Event
from lifeline_governance import buckets
from lifeline_governance.samples import BucketKey, Counters, apply_events, call_keys
from lifeline_projection import SessionKey

GROUP = "governance"
_RELEVANT = frozenset({"turn.recorded", "model.call.recorded", "session.restored"})

MERGED = Counter(
    "lifeline_governance_samples_merged_total",
    "Call samples merged into an earlier description of the same call.",
)


async def apply_batch(conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]) -> None:
    """Fold the batch's calls into bucket deltas and write them with the cursors."""
    keys = sorted(k for k, events in by_session.items() if any(e.event_type in _RELEVANT for e in events))
    if not keys:
        return
    cursors = await buckets.load_cursors(conn, keys, {k: call_keys(by_session[k]) for k in keys})
    intents_before = {k: c.current_intent for k, c in cursors.items()}
    deltas: dict[BucketKey, Counters] = {}
    merged = 0
    for key in keys:
        merged += apply_events(cursors[key], by_session[key], deltas)
    await buckets.add(conn, deltas)
    await buckets.save_cursors(conn, cursors, intents_before)
    MERGED.inc(merged)
