"""Bus topic names: the one place they are spelled.

Versioned in the name (``.v1``) so that an incompatible envelope change ships as a
new topic that old and new consumers can run side by side.
"""

from __future__ import annotations

TOPIC_TURNS = "lifeline.turns.v1"
"""Producers' raw turns (``NewEvent`` JSON, keyed by session id); ingest consumes it."""

TOPIC_EVENTS = "lifeline.events.v1"
"""Every accepted ``Event`` in per-session ``seq`` order; all projections consume it."""

TOPIC_LIFECYCLE = "lifeline.lifecycle.v1"
"""What the projections announce: snapshots, profiles, model governance, restores."""

TOPIC_DLQ = "lifeline.dlq.v1"
"""Poison messages with the reason and the original bytes; never blocks a partition."""

ALL_TOPICS: tuple[str, ...] = (TOPIC_TURNS, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_DLQ)

LIFECYCLE_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "snapshot.created",
        "profile.consolidated",
        "profile.forgotten",
        "model.call.recorded",
        "model.state.changed",
        "model.anomaly.detected",
        "session.restored",
    }
)
"""Event types that services announce on ``TOPIC_LIFECYCLE`` (besides the log)."""
