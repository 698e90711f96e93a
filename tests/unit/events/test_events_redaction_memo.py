"""The redaction memo changes cost, never results: a repeated string counts every time."""

from __future__ import annotations

from collections import Counter

from lifeline_events.redaction import _MEMO_MAX_CHARS, redact, redact_text


def test_a_repeated_string_is_redacted_and_counted_each_time() -> None:
    text = "write to ana@example.com or call +44 20 7946 0958"
    counts: Counter[str] = Counter()
    first, second = redact_text(text, counts), redact_text(text, counts)
    assert first == second == "write to [redacted:email] or call [redacted:phone]"
    assert counts == Counter({"email": 2, "phone": 2})


def test_a_long_string_past_the_memo_bound_is_still_redacted() -> None:
    text = "x " * _MEMO_MAX_CHARS + "ana@example.com"
    counts: Counter[str] = Counter()
    assert redact_text(text, counts).endswith("[redacted:email]") and counts["email"] == 1


def test_the_walk_keeps_numbers_and_structure_and_redacts_nested_strings() -> None:
    counts: Counter[str] = Counter()
    doc = {"seq": 3, "score": 0.5, "ok": True, "none": None, "event_id": "ana@example.com",
           "turns": [{"text": "mail ana@example.com"}], "facts": {"email": "bo@example.org"}}
    assert redact(doc, counts) == {
        "seq": 3, "score": 0.5, "ok": True, "none": None, "event_id": "ana@example.com",
        "turns": [{"text": "mail [redacted:email]"}], "facts": {"email": "[redacted:email]"}}
    assert counts == Counter({"email": 2})
