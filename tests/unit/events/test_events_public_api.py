"""The events library's public API: what other services code against is exported at the root."""

from __future__ import annotations

import lifeline_events


def test_public_api_is_exported() -> None:
    """The names other services code against are importable from the package root."""
    for name in ["TOPIC_TURNS", "TOPIC_EVENTS", "TOPIC_LIFECYCLE", "TOPIC_DLQ",
                 "EventValidationError", "NewEvent", "Event", "parse_new_event", "new_event_id",
                 "EVENT_TYPES", "register_upcaster", "SessionState", "apply", "fold",
                 "canonical_json", "content_hash", "score_turn", "Scorer", "estimate_tokens"]:
        assert name in lifeline_events.__all__ and hasattr(lifeline_events, name)
