"""Compliance rules: shipped defaults, the Luhn check and start-up validation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifeline_memory.rules import DEFAULT_RULES, RuleConfigError, detect, luhn_valid, parse_rules


def test_guarantee_language_fires_on_user_turns_only() -> None:
    """The default guarantee rule matches user text, case-insensitively, and ignores the assistant."""
    assert "guarantee_language" in detect(DEFAULT_RULES, "user", "It's 100% SAFE, guaranteed")
    assert "guarantee_language" not in detect(DEFAULT_RULES, "assistant", "guaranteed results")


def test_card_numbers_need_a_valid_luhn_checksum() -> None:
    """A 16-digit run with a valid checksum is a card; an order number of the same length is not."""
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert "payment_card_shared" in detect(DEFAULT_RULES, "assistant", "card 4111-1111-1111-1111 ok")
    assert "payment_card_shared" not in detect(DEFAULT_RULES, "user", "order 4111111111111112")
    assert "payment_card_shared" not in detect(DEFAULT_RULES, "user", "call 12345")


def test_credentials_are_detected() -> None:
    """API keys and bearer tokens (snapshot's redaction patterns) raise credentials_shared."""
    assert "credentials_shared" in detect(DEFAULT_RULES, "user", "my key is sk-abcdefghijklmnop1234")
    assert "credentials_shared" in detect(DEFAULT_RULES, "tool", "Authorization: Bearer abcdefgh12345")
    assert detect(DEFAULT_RULES, "user", "nothing secret here") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"name": "x", "pattern": "("}], "bad pattern"),
        ([{"name": "", "pattern": "a"}], "name must be a code"),
        ([{"name": "a" * 65, "pattern": "a"}], "name must be a code"),
        ([{"name": "x", "pattern": "a", "severity": "urgent"}], "severity"),
        ([{"name": "x", "pattern": "a", "roles": ["robot"]}], "roles"),
        ([{"name": "x", "pattern": "a", "colour": "red"}], "unknown field"),
        ([{"name": "x", "pattern": "a"}, {"name": "x", "pattern": "b"}], "duplicate"),
        ([{"name": "x"}], "needs a pattern"),
    ],
)
def test_bad_rules_are_refused_with_the_rule_named(raw: list[dict[str, object]], message: str) -> None:
    """Every malformed rule is a RuleConfigError whose message says what is wrong."""
    with pytest.raises(RuleConfigError, match=message):
        parse_rules(raw)


def test_text_beyond_32_kib_is_never_scanned() -> None:
    """Rules scan at most the schema's text limit."""
    text = "a" * 40_000 + " guaranteed"
    assert detect(DEFAULT_RULES, "user", text) == []


FRAGMENTS = [
    "Bearer ", "abcdefgh12345678", "eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM", "sk-", "AKIA", "ABCDEFGHIJKLMNOP",
             "ghp_", "x" * 30, "xoxb-", "AIza", "api_key=", "secret", "PASSWORD: ", "hunter22", "guaranteed",
             "Risk-free", "100% safe", " ", "-", "_", "4111 1111 1111 1111", "GH", "token="]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=8), st.sampled_from(["user", "assistant", "tool"]))
def test_prefilters_never_change_a_verdict(parts: list[str], role: str) -> None:
    """A shipped rule's substring prefilter is only a shortcut: the same verdict as the bare regex."""
    text = "".join(parts)
    for rule in DEFAULT_RULES:
        assert rule.matches(role, text) == replace(rule, prefilter=()).matches(role, text)
