"""Governance events' session ids are valid envelope ids for any intent (found by schemathesis)."""

from __future__ import annotations

import re

from lifeline_events._base import SCOPE_ID_PATTERN
from lifeline_governance.records import session_for


def test_an_intent_that_is_not_id_safe_gets_a_valid_distinct_session_id() -> None:
    """A hashed id matches the envelope's pattern and cannot collide with a safe intent's."""
    ids = {intent: session_for(intent) for intent in ("pricing", "ø9\U0001cfddT\x13", "a b", "x" * 300)}
    assert all(re.match(SCOPE_ID_PATTERN, sid) for sid in ids.values()), ids
    assert ids["pricing"] == "gov:pricing"
    assert len(set(ids.values())) == len(ids)
    assert session_for("a b").startswith("gov::") and not session_for("a-b").startswith("gov::")
