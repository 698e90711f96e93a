"""Redact secrets and personal data before any sink; count what was redacted.

The one redaction library of the platform: snapshot's exports and everything trace-store
stores go through it, so a placeholder means the same everywhere (`[redacted:email]`).

Kinds: ``api_key`` (``sk-…``, ``AKIA…``, GitHub/Slack/Google keys, ``api_key=…``
assignments), ``bearer_token`` (``Bearer …``, JWTs), ``email``, ``ipv4``, ``ipv6``,
``phone`` and ``auth_id`` (``auth0|…``-style subject ids, ``user_id=…`` assignments,
and any string under a key such as ``auth_id``/``user_id``). A match becomes
``[redacted:<kind>]``.

Decisions on look-alikes (pinned by the corpus test):
- A bare dotted quad like ``1.2.3.4`` is redacted as an IPv4 address: it cannot be
  told from one, and privacy wins. Preceded by ``v``/``version``/``release``/``build``
  it is a version string and is kept.
- Phone numbers need a ``+country`` prefix, separators in a phone shape
  (``555-123-4567``, ``(555) 123-4567``, ``020 7946 0958``) or a ``phone:``/``tel:``
  label. Bare digit runs (order numbers), dates, times and prices are kept.
- Times such as ``12:30:45`` are not IPv6 (candidates are checked with ``ipaddress``), nor
  are digit-less look-alikes such as ``a::b``.

Pure: no I/O; the same input always gives the same output and counts.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

KINDS = ("api_key", "bearer_token", "email", "auth_id", "ipv6", "ipv4", "phone")

_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion|\bver\.?|\brelease|\bbuild)\s*$")

# (kind, pattern, group to replace: 0 = the whole match, guard). The guard is a
# necessary condition for the pattern to match — a character or word every match
# contains — tested in microseconds, so most text runs a few of the 18 patterns, not all.
# Its arguments: the text, the text lowercased, and how many digits it holds (`_digits`).
Guard = Callable[[str, str, int], bool]
_PHONE_DIGITS = 7
"""A phone match is kept only with 7-15 digits (`_valid`), so text with fewer has none."""
_RULES: list[tuple[str, re.Pattern[str], int, Guard]] = [
    ("bearer_token", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)"), 1,
     lambda t, lo, d: "bearer" in lo),
    ("bearer_token", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), 0,
     lambda t, lo, d: "eyJ" in t),
    ("api_key", re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{16,}"), 0,
     lambda t, lo, d: "k-" in t or "k_" in t),
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 0, lambda t, lo, d: "AKIA" in t or "ASIA" in t),
    ("api_key", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"), 0,
     lambda t, lo, d: "gh" in t or "github_pat_" in t),
    ("api_key", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), 0, lambda t, lo, d: "xox" in t),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), 0, lambda t, lo, d: "AIza" in t),
    ("api_key", re.compile(
        r"(?i)\b(?:api[_-]?key|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token"
        r"|password|passwd)\b\s*[:=]\s*['\"]?(?!\[redacted:)([^\s'\",;]{6,})"), 1,
     lambda t, lo, d: ":" in t or "=" in t),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), 0,
     lambda t, lo, d: "@" in t),
    ("auth_id", re.compile(
        r"\b(?:auth0|google-oauth2|github|facebook|apple|windowslive|linkedin|twitter|samlp|waad|oidc"
        r"|email|sms)\|[A-Za-z0-9._@+-]{4,}"), 0, lambda t, lo, d: "|" in t),
    ("auth_id", re.compile(
        r"(?i)\b(?:auth[_-]?id|user[_-]?id|uid|sub(?:ject)?[_-]?id)\b\s*[:=]\s*['\"]?"
        r"(?!\[redacted:)([A-Za-z0-9|._@:-]{6,})"), 1, lambda t, lo, d: ":" in t or "=" in t),
    ("auth_id", re.compile(r"\buser_[A-Za-z0-9]{20,}\b"), 0, lambda t, lo, d: "user_" in t),
    ("ipv6", re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?"
                        r"(?![\w:])"), 0, lambda t, lo, d: ":" in t),
    ("ipv4", re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"), 0,
     lambda t, lo, d: d >= 4 and "." in t),
    ("phone", re.compile(r"(?i)\b(?:phone|tel|mobile|cell|whatsapp)\b\.?\s*(?:no\.?|number)?\s*[:#]?\s*"
                         r"(\+?\d[\d\s().-]{5,18}\d)"), 1, lambda t, lo, d: d >= _PHONE_DIGITS),
    ("phone", re.compile(r"(?<![\w+])\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{1,4}){1,4}"
                         r"(?![\w])"), 0, lambda t, lo, d: d >= _PHONE_DIGITS and "+" in t),
    ("phone", re.compile(r"(?<![\w(#/-])(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?![\w])"), 0,
     lambda t, lo, d: d >= _PHONE_DIGITS),
    ("phone", re.compile(r"(?<![\w.])0\d{2,4}[\s-]\d{3,4}[\s-]\d{3,4}(?![\w])"), 0,
     lambda t, lo, d: d >= _PHONE_DIGITS),
]

_AUTH_KEYS = frozenset({"auth_id", "authid", "auth_user_id", "user_id", "userid", "uid", "sub",
                        "subject_id", "external_id", "oauth_id"})
STRUCTURAL_KEYS = frozenset({
    "event_id", "event_type", "tenant_id", "session_id", "occurred_at", "recorded_at", "traceparent",
    "content_hash", "snapshot_id", "restored_from", "created_at", "trigger", "op", "role",
})
"""Envelope and bookkeeping fields: ids and timestamps, never personal data."""


def placeholder(kind: str) -> str:
    return f"[redacted:{kind}]"


def _valid(kind: str, text: str, match: re.Match[str]) -> bool:
    if kind == "ipv6":
        return any(c.isdigit() for c in text) and _ipv6_ok(text)
    if kind == "ipv4":
        if _VERSION_BEFORE.search(match.string[max(0, match.start() - 12): match.start()]):
            return False
        return all(int(octet) <= 255 for octet in text.split("."))
    if kind == "phone":
        return 7 <= sum(c.isdigit() for c in text) <= 15
    return True


def _ipv6_ok(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _replacer(kind: str, group: int, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        text = match.group(group)
        if not _valid(kind, text, match):
            return match.group(0)
        counts[kind] += 1
        start, end = match.span(group)
        whole = match.group(0)
        return whole[: start - match.start()] + placeholder(kind) + whole[end - match.start():]

    return replace


_MEMO_MAX_CHARS = 4096
_MEMO_ENTRIES = 8192


def redact_text(text: str, counts: Counter[str]) -> str:
    """Redact every kind in ``text``, adding to ``counts``.

    Memoized: trace-store redacts a session's whole context after every event, and that
    context repeats almost every string of the one before (recent turns, summary lines,
    facts); running 18 patterns over them again cost ~1.8 ms per event. The memo holds
    the result and the counts, so a hit counts exactly what a fresh pass would. Bounded:
    at most ``_MEMO_ENTRIES`` strings of at most ``_MEMO_MAX_CHARS`` characters.
    """
    if len(text) > _MEMO_MAX_CHARS:
        return _redact_text(text, counts)
    cleaned, found = _redact_memo(text)
    for kind, n in found:
        counts[kind] += n
    return cleaned


@lru_cache(maxsize=_MEMO_ENTRIES)
def _redact_memo(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    found: Counter[str] = Counter()
    return _redact_text(text, found), tuple(found.items())


_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = b"0123456789"


def _digits(text: str) -> int:
    """How many digits (``\\d``) `text` holds: a byte deletion for ASCII text, cheaper than
    one regex search. (Prices, times and turn numbers have digits, and the four phone
    patterns ran on all of them; a phone needs seven.)"""
    if text.isascii():
        raw = text.encode()
        return len(raw) - len(raw.translate(None, _ASCII_DIGITS))
    return len(_DIGIT.findall(text))


def _redact_text(text: str, counts: Counter[str]) -> str:
    lower, digits = text.lower(), _digits(text)
    for kind, pattern, group, guard in _RULES:
        if guard(text, lower, digits):
            redacted = pattern.sub(_replacer(kind, group, counts), text)
            if redacted != text:  # later rules see the placeholders, as without guards
                text, lower, digits = redacted, redacted.lower(), _digits(redacted)
    return text


def redact(value: Any, counts: Counter[str], key: str | None = None) -> Any:
    """Redact a JSON value deeply: strings anywhere except under structural keys.

    Dict keys are kept as they are (fact names and the like); a string under an
    auth-id key is replaced whole.
    """
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:  # most of a state: no walk
        return value
    if kind is dict:  # JSON as decoded: exact types first, the ABCs below are slow
        return {k: redact(v, counts, k) for k, v in value.items()}
    if isinstance(value, str):
        if key in STRUCTURAL_KEYS:
            return value
        if key == "person_id":
            return redact_scope_id(value, counts)
        if key is not None and key.lower() in _AUTH_KEYS and value:
            counts["auth_id"] += 1
            return placeholder("auth_id")
        return redact_text(value, counts)
    if isinstance(value, Mapping):
        return {k: redact(v, counts, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, counts, key) for v in value]
    return value


def redact_scope_id(value: str | None, counts: Counter[str]) -> str | None:
    """A person id is an identifier: if anything in it is personal, replace it whole."""
    if value is None:
        return None
    cleaned = redact_text(value, counts)
    if cleaned == value:
        return value
    kinds = [k for k in KINDS if placeholder(k) in cleaned]
    return f"redacted:{kinds[0] if kinds else 'id'}"
