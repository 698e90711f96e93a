"""The redaction memo and the rule guards change cost, never results."""

from __future__ import annotations

import random
from collections import Counter

from lifeline_events import redaction
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


_PIECES = ["jane.doe@example.com", "sk-abcdefghijklmnopqrstuvwx", "AKIAABCDEFGHIJKLMNOP", "ghp_" + "a" * 36,
           "github_pat_" + "b" * 25, "xoxb-1234567890ab", "AIza" + "c" * 35, "api_key=supersecret1",
           "password: hunter22", "auth0|abcdef123", "user_id=abc123456", "user_" + "d" * 22,
           "fe80::1ff:fe23:4567:890a", "12:30:45", "192.168.1.20", "v1.2.3.4", "phone: +44 20 7946 0958",
           "+1 555 123 4567", "(555) 123-4567", "555-123-4567", "020 7946 0958", "Bearer abcdefghijkl",
           "eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM", "order 12345678", "2026-11-30", "$4,000", "hello", "world.",
           "tel 0201234567", "uid: 9f8e7d6c5b", "a::b", "::1", "1.2.3.4.5", "x@y", "PK_" + "e" * 20,
           # around the phone guard's seven digits
           "555 1234", "555-123", "+44 20", "tel: 123456", "phone 1234567", "12 34 56", "(555) 12", "0",
           "phone ١٢٣٤٥٦٧", "٥٥٥-١٢٣-٤٥٦٧", "Zürich 555 12"]


def _unguarded(text: str, counts: Counter[str]) -> str:
    for kind, pattern, group, _ in redaction._RULES:
        text = pattern.sub(redaction._replacer(kind, group, counts), text)
    return text


def test_the_guards_only_skip_patterns_that_cannot_match() -> None:
    """Every rule's guard is a necessary condition: with and without guards, the same text
    and the same counts, over thousands of mixed look-alikes, cases and separators."""
    rng = random.Random(7)
    for _ in range(3000):
        text = " ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 6)))
        if rng.random() < 0.3:
            text = text.upper()
        if rng.random() < 0.3:
            text = text.replace(" ", rng.choice(["", ".", ":", "=", "|", "-", "\n"]))
        guarded, plain = Counter[str](), Counter[str]()
        assert redaction._redact_text(text, guarded) == _unguarded(text, plain), text
        assert guarded == plain, text
