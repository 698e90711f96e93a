"""Provider transcripts in, Lifeline turns out (pure): each format's rules, as data.

A transcript is one provider's conversation body (OpenAI chat `messages`, Anthropic
`system` + `messages`, Gemini `system_instruction` + `contents`) plus Lifeline's options
(`first_turn_id`, `person_id`, `expected_seq`). It is checked against its provider's
rules (`RULES`: the roles it knows, where its system prompt goes, whether user and
assistant must alternate); every violation is reported at once, naming the message
index and the fix. What a text turn cannot hold (images, tool calls, non-text parts, a
message's name) is listed in `dropped`, never refused.

Turn ids are positional, so a re-import is a no-op through ingest's dedupe by turn id:
the conversation's items are numbered from `first_turn_id` (default 1) in order, the
top-level system prompt (when there is one) first, then each message; a message dropped
whole keeps its number (a gap). So the same conversation gets the same ids in every
format when its shape is the same (one system prompt, then the messages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from lifeline_events import EventValidationError, NewEvent, parse_new_event
from lifeline_events.providers import MERGE_SEPARATOR, PROVIDERS
from lifeline_ingest.errors import IntakeError, IntakeTooLargeError

MAX_TURN_ID = 2**63 - 1
OPTIONS = ("provider", "first_turn_id", "person_id", "participant_id", "expected_seq")
PARTICIPANT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_SYSTEM_AS_MESSAGE = ('OpenAI takes the system prompt as the first message: '
                      '{"role": "system", "content": "..."}')
_TEXT_PARTS = 'send text as a string or [{"type": "text", "text": "..."}] (Gemini: [{"text": "..."}])'
_SYSTEM_ANTHROPIC = 'Anthropic takes the system prompt only as the top-level "system" string: move it there'
_SYSTEM_GEMINI = ('Gemini takes the system prompt only as "system_instruction": '
                  '{"parts": [{"text": "..."}]}: move it there')


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> IntakeError:
    """A transcript breaking its provider's rules (422; `errors`: each field and its fix)."""
    error = IntakeError(detail, errors)
    error.title = "Invalid transcript"
    return error


@dataclass(frozen=True)
class Rules:
    """One provider's transcript format."""

    items: str                          # the conversation's list: "messages" or "contents"
    body: str                           # a message's text carrier: "content" or "parts"
    roles: dict[str, str]               # provider role -> Lifeline role
    wrong_roles: dict[str, str]         # a role the provider refuses -> the fix
    system: tuple[str, ...]             # top-level keys holding the system prompt
    misplaced: dict[str, str]           # top-level keys other providers use -> the fix
    alternate: bool = False             # strict user/assistant alternation, user first
    unheld: tuple[str, ...] = ()        # message keys a turn cannot hold (reported dropped)


RULES: dict[str, Rules] = {
    "openai": Rules(
        items="messages", body="content",
        roles={"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
               "tool": "tool", "function": "tool"},
        wrong_roles={"model": 'use "assistant" ("model" is Gemini\'s name for it)'},
        system=(), misplaced={"system": _SYSTEM_AS_MESSAGE, "system_instruction": _SYSTEM_AS_MESSAGE},
        unheld=("name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio", "annotations")),
    "anthropic": Rules(
        items="messages", body="content", roles={"user": "user", "assistant": "assistant"},
        wrong_roles={"system": _SYSTEM_ANTHROPIC, "model": 'use "assistant"',
                     "tool": 'Anthropic carries tool results as "tool_result" blocks in a "user" message'},
        system=("system",), misplaced={"system_instruction": _SYSTEM_ANTHROPIC}, alternate=True),
    "gemini": Rules(
        items="contents", body="parts", roles={"user": "user", "model": "assistant", "function": "tool"},
        wrong_roles={"assistant": 'use "model" (Gemini\'s name for the assistant)', "system": _SYSTEM_GEMINI},
        system=("system_instruction", "systemInstruction"), misplaced={"system": _SYSTEM_GEMINI}),
}


@dataclass(frozen=True)
class ImportedTurn:
    turn_id: int
    role: str
    text: str
    source: str  # where it came from: "system", "messages.3", "contents.0"


@dataclass
class Transcript:
    """A checked transcript: its turns, what could not be held, and the append options."""

    provider: str
    turns: list[ImportedTurn]
    dropped: list[dict[str, Any]]
    first_turn_id: int = 1
    person_id: str | None = None
    expected_seq: int | None = None
    next_turn_id: int = 1
    participant_id: str | None = None


@dataclass
class _Report:
    errors: list[dict[str, str]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def error(self, where: str, msg: str, fix: str) -> None:
        self.errors.append({"field": where, "msg": msg, "fix": fix})

    def drop(self, where: str, index: int | None, reason: str) -> None:
        self.dropped.append({"field": where, "index": index, "reason": reason})


def _texts(body: Any, where: str, index: int | None, report: _Report) -> list[str]:
    """The text of an OpenAI `content` / Anthropic `content` / Gemini `parts`; the rest is dropped."""
    if isinstance(body, str):
        return [body] if body else []
    if body is None:
        return []
    if not isinstance(body, list):
        report.error(where, "must be a string or a list of parts", _TEXT_PARTS)
        return []
    texts = []
    for j, part in enumerate(body):
        at = f"{where}.{j}"
        if not isinstance(part, dict):
            report.error(at, "must be an object", _TEXT_PARTS)
            continue
        kind = part.get("type", "text" if "text" in part else next(iter(part), "empty"))
        kind = "thought" if part.get("thought") is True else kind
        if kind != "text":
            report.drop(at, index, f'"{kind}" is not held: a Lifeline turn holds text only')
        elif not isinstance(part.get("text"), str):
            report.error(f"{at}.text", "must be a string", "put the part's text in \"text\" as a string")
        elif part["text"]:
            texts.append(part["text"])
    return texts


def _system(doc: dict[str, Any], rules: Rules, report: _Report) -> str | None:
    key = next((k for k in rules.system if k in doc), None)
    if key is None:
        return None
    value = doc[key]
    if isinstance(value, dict) and rules.items == "contents":
        value = value.get("parts")
    texts = _texts(value, key, None, report)
    if not texts:
        report.drop(key, None, "no text: the system prompt is not imported")
    return MERGE_SEPARATOR.join(texts) if texts else None


def _role(item: dict[str, Any], where: str, rules: Rules, provider: str, report: _Report) -> str | None:
    role = item.get("role")
    if isinstance(role, str) and role in rules.roles:
        return rules.roles[role]
    fix = "use one of " + ", ".join(f'"{r}"' for r in rules.roles)
    fix = rules.wrong_roles.get(role, fix) if isinstance(role, str) else fix
    msg = f"{role!r} is not a {provider} role" if role is not None else "required"
    report.error(f"{where}.role", msg, fix)
    return None


def _alternation(items: list[Any], rules: Rules, report: _Report) -> None:
    roles = [i.get("role") if isinstance(i, dict) and isinstance(i.get("role"), str) else None for i in items]
    if roles and roles[0] not in ("user", None) and roles[0] in rules.roles:
        report.error(f"{rules.items}.0.role", f"the conversation opens with {roles[0]!r}",
                     'start with a "user" message (Anthropic requires the user to speak first)')
    for i in range(1, len(roles)):
        if roles[i] == roles[i - 1] and roles[i] in rules.roles:
            report.error(f"{rules.items}.{i}.role",
                         f"two {roles[i]!r} messages in a row ({rules.items}.{i - 1} and {rules.items}.{i})",
                         "user and assistant must alternate: merge the two messages into one, "
                         "or put the other side's message between them")


def _message(item: Any, i: int, rules: Rules, provider: str, report: _Report) -> tuple[str, str] | None:
    where = f"{rules.items}.{i}"
    if not isinstance(item, dict):
        report.error(where, "must be an object", f'send {{"role": ..., "{rules.body}": ...}}')
        return None
    for key in sorted(set(item) - {"role", rules.body}):
        if key not in rules.unheld:
            report.error(f"{where}.{key}", "unknown field", f'remove it: a {provider} message carries '
                         f'"role" and "{rules.body}"')
        elif item[key] not in (None, [], ""):
            report.drop(f"{where}.{key}", i, f'"{key}" is not held: a Lifeline turn holds role and text')
    role = _role(item, where, rules, provider, report)
    if rules.body not in item and role is not None and rules.body == "parts":
        report.error(f"{where}.parts", "required", 'send the text as "parts": [{"text": "..."}]')
    texts = _texts(item.get(rules.body), f"{where}.{rules.body}", i, report)
    if role is None:
        return None
    if not texts:
        report.drop(where, i, "no text: the message is not imported")
        return None
    return role, MERGE_SEPARATOR.join(texts)


def _options(doc: dict[str, Any], rules: Rules, provider: str, report: _Report) -> None:
    allowed = {*OPTIONS, rules.items, *rules.system}
    for key in sorted(set(doc) - allowed):
        fix = rules.misplaced.get(key) or f"remove it: a {provider} transcript carries " + ", ".join(
            sorted(allowed))
        if key in ("messages", "contents"):
            fix = f'{provider} carries the conversation as "{rules.items}": move it there'
        report.error(key, "not part of a " + provider + " transcript", fix)
    first = doc.get("first_turn_id", 1)
    if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_TURN_ID:
        report.error("first_turn_id", "must be a non-negative integer",
                     "number the turns from a turn id the session does not use yet")
    participant = doc.get("participant_id")
    if participant is not None and not (isinstance(participant, str) and PARTICIPANT.match(participant)):
        report.error("participant_id", "not a valid participant id", "1-128 of A-Z a-z 0-9 . _ : @ -")
    expected = doc.get("expected_seq")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)
                                 or not 0 <= expected <= MAX_TURN_ID):
        report.error("expected_seq", "must be a non-negative integer",
                     "send the session's last seq, or leave it out")


def _load(body: bytes) -> tuple[dict[str, Any], Rules, str]:
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise invalid("body must be a JSON object: a transcript")
    provider = doc.get("provider")
    if not isinstance(provider, str) or provider not in RULES:
        fix = f"name the transcript's format: one of {', '.join(PROVIDERS)}"
        raise invalid(f"provider: {fix}",
                              [{"field": "provider", "msg": "unknown or missing", "fix": fix}])
    return doc, RULES[provider], provider


def parse_transcript(body: bytes, *, max_turns: int) -> Transcript:
    """Check a transcript body against its provider's rules and turn it into numbered turns."""
    doc, rules, provider = _load(body)
    report = _Report()
    _options(doc, rules, provider, report)
    items = doc.get(rules.items)
    if not isinstance(items, list) or not items:
        report.error(rules.items, "must be a non-empty list",
                     f'send the conversation as "{rules.items}": [...]')
        items = []
    if len(items) > max_turns:
        raise IntakeTooLargeError(f"{rules.items} has {len(items)} entries; the limit is {max_turns} turns",
                                  [{"field": rules.items, "msg": f"more than {max_turns} turns"}])
    system = _system(doc, rules, report)
    if rules.alternate:
        _alternation(items, rules, report)
    first = doc.get("first_turn_id", 1)
    offset = first + (1 if system is not None else 0) if isinstance(first, int) else 0
    turns = [ImportedTurn(first, "system", system, "system")] if system is not None else []
    for i, item in enumerate(items):
        said = _message(item, i, rules, provider, report)
        if said is not None:
            turns.append(ImportedTurn(offset + i, said[0], said[1], f"{rules.items}.{i}"))
    if not report.errors and not turns:
        report.error(rules.items, "no message has text", "send at least one message with text")
    if len(turns) > max_turns:
        raise IntakeTooLargeError(f"the transcript makes {len(turns)} turns; the limit is {max_turns}",
                                  [{"field": rules.items, "msg": f"more than {max_turns} turns"}])
    if report.errors:
        raise invalid("; ".join(f"{e['field']}: {e['msg']} ({e['fix']})" for e in report.errors),
                              report.errors)
    return Transcript(provider, turns, report.dropped, first, doc.get("person_id"), doc.get("expected_seq"),
                      next_turn_id=offset + len(items), participant_id=doc.get("participant_id"))


def to_events(transcript: Transcript, *, session_id: str, tenant_id: str,
              max_event_bytes: int) -> list[NewEvent]:
    """The transcript's turns as `turn.recorded` events; a failing turn is named by its source."""
    events, errors = [], []
    for turn in transcript.turns:
        raw: dict[str, Any] = {"event_type": "turn.recorded", "turn_id": turn.turn_id,
                               "payload": {"role": turn.role, "text": turn.text}}
        if transcript.person_id is not None:
            raw["person_id"] = transcript.person_id
        size = len(orjson.dumps(raw))
        if size > max_event_bytes:
            msg = f"event larger than {max_event_bytes} bytes"
            raise IntakeTooLargeError(f"{turn.source}: {msg} ({size})", [{"field": turn.source, "msg": msg}])
        try:
            events.append(parse_new_event(raw, session_id=session_id, tenant_id=tenant_id))
        except EventValidationError as exc:
            for e in exc.errors:
                at = "person_id" if e["loc"] == "person_id" else turn.source
                error = {"field": at, "msg": f"{e['loc']}: {e['msg']}", "fix": "shorten or correct it"}
                if error not in errors:
                    errors.append(error)
    if errors:
        raise invalid("; ".join(f"{e['field']}: {e['msg']}" for e in errors), errors)
    return events
