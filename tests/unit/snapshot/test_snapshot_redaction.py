"""Redaction corpus: every kind is caught; ordinary text (orders, dates, times, prices,
versions) is left alone. The decisions on look-alikes are in `redaction`'s docstring."""

from __future__ import annotations

from collections import Counter

import pytest

from lifeline_events.redaction import KINDS, placeholder, redact, redact_scope_id, redact_text

CAUGHT = {
    "api_key": [
        "my key is sk-proj-abcdefghijklmnop1234 ok",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",
        "aws AKIAIOSFODNN7EXAMPLE here",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "xoxb-1234567890-abcdefghij",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        'api_key = "q9w8e7r6t5y4"',
        "password: hunter2hunter2",
    ],
    "bearer_token": [
        "Authorization: Bearer abc.def.ghijklmnop",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0",
    ],
    "email": ["mail alice.smith+tag@example.co.uk now", "bob@mail.example.com"],
    "auth_id": [
        "auth0|5f7c8ec7c33c6c004bbafe82",
        "google-oauth2|109876543210987654321",
        "user_id=abc123def",
        "clerk user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
    ],
    "ipv4": ["server 192.168.1.10:8080", "from 10.0.0.1.", "ip 8.8.8.8"],
    "ipv6": ["fe80::1ff:fe23:4567:890a", "2001:db8::1.", "mapped ::ffff:10.0.0.1 addr",
             "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
    "phone": [
        "call +1 (555) 123-4567", "or 555-123-4567", "+44 20 7946 0958", "(555) 123-4567",
        "020 7946 0958", "+15551234567", "+7 912 345-67-89", "phone: 5551234567",
        "Tel. 030 1234567",
    ],
}

KEPT = [
    "Order #123456789 shipped",
    "order 5551234567 is on its way",
    "ORD-555-123-4567",
    "on 2025-10-18 at 12:30:45",
    "2025-10-18T12:34:56Z",
    "10/18/2025 and 18.10.2025",
    "total $1,234.56 or 1 234,56 € or 99.90",
    "version 1.2.3.4 and v2.0.1.7 and release 10.4.0.1",
    "semver 1.2.3 and 10.0",
    "MAC 00:1A:2B:3C:4D:5E",
    "std::vector and a::b",
    "the ratio 3:2 at 9:45",
    "zip 94105, room 1204, +3 points, up 12.5%",
    "our task-management-system-overview doc",
    "the secret: patience",
]


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, texts in CAUGHT.items() for t in texts])
def test_every_kind_is_caught(kind: str, text: str) -> None:
    """Each sample of a kind is replaced by that kind's placeholder and counted once."""
    counts: Counter[str] = Counter()
    out = redact_text(text, counts)
    assert placeholder(kind) in out, out
    assert counts == Counter({kind: 1}), (out, counts)


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Order numbers, dates, times, prices and version strings are not redacted."""
    counts: Counter[str] = Counter()
    assert redact_text(text, counts) == text
    assert not counts


def test_bare_dotted_quad_counts_as_ipv4() -> None:
    """Decision: a bare 1.2.3.4 cannot be told from an address, so it is redacted."""
    counts: Counter[str] = Counter()
    assert redact_text("build 1.2.3.4 vs 1.2.3.4", counts) == "build 1.2.3.4 vs [redacted:ipv4]"


def test_secrets_among_ordinary_text_are_all_counted() -> None:
    """A paragraph mixing kinds reports one count per kind found, and keeps the rest."""
    counts: Counter[str] = Counter()
    text = ("Order #4411 for bob@example.com (+1 555 123 4567) from 203.0.113.9 on 2025-01-02, "
            "key sk-live-0123456789abcdefXYZ, total $12.50")
    out = redact_text(text, counts)
    assert counts == Counter(email=1, phone=1, ipv4=1, api_key=1)
    assert out.startswith("Order #4411 for [redacted:email]") and out.endswith("on 2025-01-02, "
                                                                                 "key [redacted:api_key], "
                                                                                 "total $12.50")


def test_deep_redaction_spares_structural_fields() -> None:
    """Ids and timestamps in envelopes are never touched; auth-id keys are replaced whole."""
    counts: Counter[str] = Counter()
    doc = {"event_id": "01a2-…", "recorded_at": "2025-10-18T12:00:00Z", "session_id": "s-10.0.0.1",
           "payload": {"text": "ip 10.0.0.1", "user_id": "whatever-it-is", "n": 5, "tags": ["a@b.io"]}}
    out = redact(doc, counts)
    assert out["session_id"] == "s-10.0.0.1" and out["recorded_at"] == doc["recorded_at"]
    assert out["payload"] == {"text": "ip [redacted:ipv4]", "user_id": "[redacted:auth_id]", "n": 5,
                              "tags": ["[redacted:email]"]}
    assert counts == Counter(ipv4=1, auth_id=1, email=1)


def test_person_id_stays_a_valid_identifier() -> None:
    """A person id that is an e-mail becomes an id-safe token, not bracketed text."""
    counts: Counter[str] = Counter()
    assert redact_scope_id("alice@example.com", counts) == "redacted:email"
    assert redact_scope_id("p-7", counts) == "p-7"
    assert counts == Counter(email=1)


def test_redaction_is_deterministic_and_idempotent() -> None:
    """The same input gives the same output, and redacting again finds nothing new."""
    text = " ".join(t for texts in CAUGHT.values() for t in texts)
    first, again = Counter(), Counter()
    once = redact_text(text, first)
    assert redact_text(text, Counter()) == once
    assert redact_text(once, again) == once and not again
    assert set(first) == set(KINDS)
