"""Compliance detectors: which turn texts raise which flag (pure).

Rules are admin configuration (``LIFELINE_MEMORY_COMPLIANCE_RULES``) validated at
start-up, so a bad pattern stops the process with the setting named instead of
silently never matching. Two kinds: ``regex`` (a pattern) and ``luhn`` (13–19 digit
runs that pass the Luhn check: card numbers, not order numbers). The credential
patterns mirror snapshot's redaction (``lifeline_snapshot/redaction.py``); the spec's
shared ``lifeline_redaction`` library does not exist yet, and services must not import
each other, so the few patterns are repeated here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

Severity = Literal["high", "medium", "low"]
SEVERITY_RANK: dict[str, int] = {"high": 3, "medium": 2, "low": 1}
MAX_SCANNED_CHARS = 32_768
"""The schema's turn-text limit: no rule ever scans more."""

_CODE_MAX = 64
_ROLES = frozenset({"user", "assistant", "system", "tool"})
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


class RuleConfigError(ValueError):
    """A compliance rule is malformed (bad regex, bad name, unknown field)."""


@dataclass(frozen=True)
class ComplianceRule:
    """One detector; ``roles`` empty means every role."""

    name: str
    pattern: str = ""
    kind: Literal["regex", "luhn"] = "regex"
    roles: tuple[str, ...] = ()
    severity: Severity = "medium"
    label: str | None = None
    ignore_case: bool = True
    compiled: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    prefilter: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """Lower-case substrings of which a match must contain one (a cheap necessary condition)."""

    def matches(self, role: str, text: str, lowered: str | None = None) -> bool:
        """True when this rule applies to ``role`` and finds something in ``text``
        (``lowered``: the scanned text lower-cased, when the caller has it already)."""
        if self.roles and role not in self.roles:
            return False
        scanned = text[:MAX_SCANNED_CHARS]
        if self.prefilter:
            lowered = lowered if lowered is not None else scanned.lower()
            if not any(p in lowered for p in self.prefilter):
                return False
        if self.kind == "luhn":
            return any(luhn_valid(m.group(0)) for m in _DIGIT_RUN.finditer(scanned))
        return self.compiled is not None and self.compiled.search(scanned) is not None

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": self.pattern,
            "kind": self.kind,
            "roles": list(self.roles),
            "severity": self.severity,
            "label": self.label,
            "ignore_case": self.ignore_case,
        }


def luhn_valid(candidate: str) -> bool:
    """The Luhn checksum over the digits of ``candidate`` (separators ignored)."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CREDENTIALS = (
    r"(?i:\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*)"
    r"|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"
    r"|\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{16,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|(?i:\b(?:api[_-]?key|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token"
    r"|password|passwd)\b\s*[:=]\s*['\"]?[^\s'\",;]{6,})"
)

DEFAULT_RULES_CONFIG: list[dict[str, Any]] = [
    {
        "name": "guarantee_language",
        "pattern": r"\b(guarantee[sd]?|risk[- ]free|100% (safe|sure))\b",
        "roles": ["user"],
        "severity": "high",
        "label": "promising guaranteed results",
        "ignore_case": True,
    },
    {
        "name": "payment_card_shared",
        "kind": "luhn",
        "severity": "high",
        "label": "sharing a payment card number",
    },
    {
        "name": "credentials_shared",
        "pattern": _CREDENTIALS,
        "severity": "high",
        "label": "sharing credentials or API keys",
        "ignore_case": False,
    },
]

_FIELDS = frozenset({"name", "pattern", "kind", "roles", "severity", "label", "ignore_case"})


def parse_rules(raw: Sequence[Any]) -> tuple[ComplianceRule, ...]:
    """Validate and compile a rules list; raises ``RuleConfigError`` naming the rule."""
    rules: list[ComplianceRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"rule {i}"
        if not isinstance(item, dict):
            raise RuleConfigError(f"{where}: must be an object")
        unknown = set(item) - _FIELDS
        if unknown:
            raise RuleConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > _CODE_MAX:
            raise RuleConfigError(f"{where}: name must be a code of 1..{_CODE_MAX} characters")
        name = name.strip()
        where = f"rule {name!r}"
        if name in seen:
            raise RuleConfigError(f"{where}: duplicate name")
        seen.add(name)
        kind = item.get("kind", "regex")
        if kind not in ("regex", "luhn"):
            raise RuleConfigError(f"{where}: kind must be 'regex' or 'luhn'")
        severity = item.get("severity", "medium")
        if severity not in SEVERITY_RANK:
            raise RuleConfigError(f"{where}: severity must be high, medium or low")
        roles = item.get("roles") or []
        if not isinstance(roles, list) or any(r not in _ROLES for r in roles):
            raise RuleConfigError(f"{where}: roles must be a list of {sorted(_ROLES)}")
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            raise RuleConfigError(f"{where}: label must be a string of at most 200 characters")
        ignore_case = item.get("ignore_case", True)
        if not isinstance(ignore_case, bool):
            raise RuleConfigError(f"{where}: ignore_case must be a boolean")
        pattern = item.get("pattern", "")
        compiled = None
        if kind == "regex":
            if not isinstance(pattern, str) or not pattern:
                raise RuleConfigError(f"{where}: a regex rule needs a pattern")
            try:
                compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                raise RuleConfigError(f"{where}: bad pattern: {exc}") from None
        rules.append(
            ComplianceRule(
                name=name,
                pattern=pattern or "",
                kind=kind,
                roles=tuple(sorted(roles)),
                severity=severity,
                label=label,
                ignore_case=ignore_case,
                compiled=compiled,
            )
        )
    return tuple(_shipped(r) for r in rules)


_PREFILTERS: dict[str, tuple[str, ...]] = {
    # every alternative of _CREDENTIALS contains one of these (lower-cased); regex search is
    # the consumer's largest per-turn cost, a substring scan is a tenth of it
    "credentials_shared": ("bearer", "eyj", "sk-", "sk_", "pk-", "pk_", "rk-", "rk_", "akia", "asia",
                           "gh", "xox", "aiza", "key", "secret", "token", "passw"),
    "guarantee_language": ("guarantee", "risk", "100%"),
}


def _shipped(rule: ComplianceRule) -> ComplianceRule:
    """A shipped rule with its prefilter; a configured rule of the same pattern gets it too."""
    default = next((r for r in DEFAULT_RULES_CONFIG if r["name"] == rule.name), None)
    if default is None or rule.pattern != default.get("pattern", "") or rule.name not in _PREFILTERS:
        return rule
    return replace(rule, prefilter=_PREFILTERS[rule.name])


DEFAULT_RULES: tuple[ComplianceRule, ...] = parse_rules(DEFAULT_RULES_CONFIG)


def rules_hash(rules: Sequence[ComplianceRule]) -> str:
    """Identifies the rule set that produced rule observations (stored with each digest)."""
    data = orjson.dumps([r.as_config() for r in rules], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()


def detect(rules: Sequence[ComplianceRule], role: str, text: str) -> list[str]:
    """Names of the rules that fire on one turn, in configuration order."""
    if not text:
        return []
    lowered = text[:MAX_SCANNED_CHARS].lower()
    return [rule.name for rule in rules if rule.matches(role, text, lowered)]
