"""Conversation turns in each LLM provider's own message format (pure).

One renderer shared by replay's context window (`GET …/context?provider=`) and ingest's
transcript import (`POST …/transcripts`), so a transcript imported from one provider and
rendered for another goes through the very code a client is served by.

- OpenAI chat: `{"messages": [{"role": "system"|"user"|"assistant", "content": str}]}`;
  the system text is the first message.
- Anthropic messages: `{"system": str, "messages": [...]}`: system only at the top, and
  strict user/assistant alternation starting with the user.
- Gemini contents: `{"system_instruction": {"parts": [{"text": str}]}, "contents":
  [{"role": "user"|"model", "parts": [{"text": str}]}]}`, same alternation.

Lifeline turns are `(role, text)` with role user, assistant, system or tool. System and
tool turns inside the conversation are spoken on the user's side as `"System: …"` /
`"Tool: …"`; consecutive same-side turns are merged with a blank line for Anthropic and
Gemini, which also get `CONTINUATION` as an opener when the assistant speaks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

Provider = Literal["openai", "anthropic", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini")
CONTINUATION = "(continuing the conversation)"
"""Anthropic and Gemini want the user to speak first; this opens a conversation that starts
with the assistant."""
MERGE_SEPARATOR = "\n\n"

Utterance = tuple[str, str]
"""(role, text)."""


def speaker(role: str, text: str) -> Utterance:
    """(user|assistant, text): system and tool turns are spoken into the user's side."""
    if role in ("user", "assistant"):
        return role, text
    return "user", f"{role.capitalize()}: {text}"


def conversation(pairs: Sequence[Utterance], provider: str) -> list[Utterance]:
    """The user/assistant pairs as the provider accepts them (merged and opened as needed)."""
    if provider == "openai":
        return list(pairs)
    ordered = list(pairs)
    if ordered and ordered[0][0] == "assistant":
        ordered.insert(0, ("user", CONTINUATION))
    merged: list[Utterance] = []
    for role, text in ordered:
        if merged and merged[-1][0] == role:
            merged[-1] = (role, merged[-1][1] + MERGE_SEPARATOR + text)
        else:
            merged.append((role, text))
    return merged


def render(provider: str, system: str, pairs: Sequence[Utterance]) -> dict[str, Any]:
    """The provider's request body (conversation part) for a system text and user/assistant pairs."""
    if provider == "openai":
        sys_msg = [{"role": "system", "content": system}] if system else []
        return {"messages": sys_msg + [{"role": r, "content": t} for r, t in pairs]}
    if provider == "anthropic":
        out: dict[str, Any] = {"system": system} if system else {}
        return {**out, "messages": [{"role": r, "content": t} for r, t in pairs]}
    if provider == "gemini":
        out = {"system_instruction": {"parts": [{"text": system}]}} if system else {}
        contents = [{"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]}
                    for r, t in pairs]
        return {**out, "contents": contents}
    raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")


def render_turns(provider: str, turns: Sequence[Utterance]) -> dict[str, Any]:
    """A whole conversation of Lifeline turns in the provider's format.

    The leading system turns become the system text (joined by a blank line); every later
    turn goes through `speaker` and `conversation`, as in replay's context window.
    """
    lead = 0
    while lead < len(turns) and turns[lead][0] == "system":
        lead += 1
    system = MERGE_SEPARATOR.join(text for _, text in turns[:lead])
    pairs = [speaker(role, text) for role, text in turns[lead:]]
    return render(provider, system, conversation(pairs, provider))
