"""WAL retention's pure rules: a session is archived only whole, an archive only verifies whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lifeline_ingest.retention import (
    ARCHIVE_NAME,
    ArchivedEvent,
    archive_name,
    digest,
    entry_for,
    verify,
)

SESSION = {"tenant_id": "t", "session_id": "s", "last_seq": 3, "person_id": "p",
           "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-02T00:00:00+00:00"}


def _events(n: int = 3) -> list[ArchivedEvent]:
    return [ArchivedEvent("t", "s", q, "2026-01-02T00:00:00+00:00",
                          {"seq": q, "payload": {"text": f"turn {q}", "score": 0.1 * q}})
            for q in range(1, n + 1)]


def test_the_digest_ignores_key_order_but_not_content_or_order_of_events() -> None:
    """Canonical bytes: the same envelopes hash the same however their keys are ordered."""
    a, b = {"x": 1, "y": [1, 2]}, {"y": [1, 2], "x": 1}
    assert digest([a, b]) == digest([b, a])
    assert digest([a, {"x": 2}]) != digest([{"x": 2}, a])
    assert digest([a]) != digest([{"x": 1, "y": [2, 1]}])


def test_a_whole_session_verifies_and_any_change_is_named() -> None:
    """An untouched archive verifies; a changed text, a lost or a foreign event does not."""
    events = _events()
    entry = entry_for(SESSION, events)
    assert (entry.events, entry.first_seq, entry.last_seq) == (3, 1, 3)
    assert verify([entry], events) == []
    changed = [*events[:2], replace(events[2], envelope={**events[2].envelope, "payload": {"text": "x"}})]
    assert verify([entry], changed) == ["t/s: SHA-256 differs from the manifest"]
    assert "2 events, expected 3" in verify([entry], events[:2])[0]
    foreign = ArchivedEvent("t", "other", 1, None, {"seq": 1})
    assert verify([entry], [*events, foreign]) == ["t/other: events not in the manifest"]
    tail = replace(entry, first_seq=2, events=2, sha256=digest(e.envelope for e in events[1:]))
    assert "expected 2 (seq 2..3)" in verify([tail], events[1:])[0]  # a restore would leave a gap


def test_a_session_with_a_gap_or_behind_its_last_seq_is_not_archived() -> None:
    """Only a whole log is archived: a gap, or fewer events than `last_seq` says, is refused."""
    events = _events()
    with pytest.raises(ValueError, match="not whole"):
        entry_for(SESSION, [events[0], events[2]])
    with pytest.raises(ValueError, match="not whole"):
        entry_for({**SESSION, "last_seq": 4}, events)
    with pytest.raises(ValueError, match="not whole"):
        entry_for(SESSION, [])


def test_archive_names_are_the_only_names_a_restore_accepts() -> None:
    """Generated names match the pattern; paths and other names do not."""
    name = archive_name(datetime(2026, 11, 30, 13, 5, 9, tzinfo=UTC), "0123abcdef")
    assert name == "wal-20261130T130509Z-0123abcd.jsonl.gz" and ARCHIVE_NAME.match(name)
    for bad in ("../wal-20261130T130509Z-0123abcd.jsonl.gz", "wal-x.jsonl.gz", "/etc/passwd"):
        assert not ARCHIVE_NAME.match(bad)
