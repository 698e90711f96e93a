"""The context window for the next LLM call, assembled deterministically (pure).

Inputs are a session state, a token budget, a provider and the person's long-term
bias. Items are considered in rank order and each is taken if it still fits:

1. the compressed summary (S2), 2. warm pins (newest first), 3. confirmed facts
(retracted ones never appear, nor pins named after them), 4. open objectives (by
priority), 5. the long-term bias, 6. the most recent turns (S1, newest first).

Within bias and turns, items tied to an intent other than the current one rank below
those that match it (or carry none). Sections 1–5 form the system text; the chosen
turns are rendered in conversation order in the provider's own message format
(`lifeline_events.providers`, shared with ingest's transcript import).
Tokens are estimated as ceil(chars / 4) plus `MESSAGE_OVERHEAD` per message, an upper
bound for every provider's rendering (merging consecutive turns only saves tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from lifeline_events import SessionState, TurnRecord, estimate_tokens
from lifeline_events.providers import CONTINUATION, PROVIDERS, conversation, render, speaker
from lifeline_replay.bias import BiasItem

MESSAGE_OVERHEAD = 4
"""Tokens charged per message for role and framing."""
__all__ = ["CONTINUATION", "MESSAGE_OVERHEAD", "PROVIDERS", "assemble"]


@dataclass
class _Budget:
    limit: int
    lines: list[str] = field(default_factory=list)
    turn_tokens: int = 0

    def system_tokens(self, lines: Sequence[str]) -> int:
        return estimate_tokens("\n".join(lines)) + MESSAGE_OVERHEAD if lines else 0

    def add_lines(self, new: Sequence[str]) -> bool:
        candidate = [*self.lines, *new]
        if self.system_tokens(candidate) + self.turn_tokens > self.limit:
            return False
        self.lines = candidate
        return True

    def add_turn(self, tokens: int) -> bool:
        if self.system_tokens(self.lines) + self.turn_tokens + tokens > self.limit:
            return False
        self.turn_tokens += tokens
        return True


def _section(budget: _Budget, header: str, items: Sequence[str]) -> int:
    """Add `items` under `header` (written once, with the first item that fits)."""
    taken = 0
    for item in items:
        if budget.add_lines([header, item] if taken == 0 else [item]):
            taken += 1
    return taken


def _fact_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _off_intent(item_intent: str | None, current: str | None) -> bool:
    return item_intent is not None and current is not None and item_intent != current


def _system(state: SessionState, budget: _Budget, bias: Sequence[BiasItem],
            intent: str | None) -> dict[str, int]:
    retracted = set(state.retracted_facts)
    summary = budget.add_lines([f"Conversation summary: {state.summary}"]) if state.summary else False
    pins = [f"- {p.text}" for p in state.pins if p.id not in retracted]
    facts = [f"- {k}: {_fact_text(v)}" for k, v in sorted(state.confirmed_facts.items())
             if k not in retracted]
    objectives = [f"- {o.text or o.id} (priority {o.priority})" for o in state.objectives]
    ranked_bias = sorted(bias, key=lambda b: _off_intent(b.intent, intent))
    return {
        "summary": int(summary),
        "pins": _section(budget, "Pinned:", pins),
        "facts": _section(budget, "Known facts:", facts),
        "objectives": _section(budget, "Open objectives (most urgent first):", objectives),
        "bias": _section(budget, "Long-term focus for this person:", [f"- {b.text}" for b in ranked_bias]),
    }


def _cost(turn: TurnRecord) -> int:
    return estimate_tokens(speaker(turn.role, turn.text)[1]) + MESSAGE_OVERHEAD


def _choose_turns(state: SessionState, budget: _Budget, intent: str | None,
                  provider: str) -> list[TurnRecord]:
    ranked = sorted(state.recent_turns, key=lambda t: (_off_intent(t.intent, intent), -t.seq))
    chosen = [t for t in ranked if budget.add_turn(_cost(t))]
    chosen.sort(key=lambda t: t.seq)
    opener = estimate_tokens(CONTINUATION) + MESSAGE_OVERHEAD
    while provider != "openai" and chosen and speaker(chosen[0].role, chosen[0].text)[0] == "assistant":
        if budget.add_turn(opener):
            break
        drop = max(chosen, key=lambda t: (_off_intent(t.intent, intent), -t.seq))
        chosen.remove(drop)
        budget.turn_tokens -= _cost(drop)
    return chosen


def _estimate(system: str, pairs: list[tuple[str, str]]) -> int:
    total = estimate_tokens(system) + MESSAGE_OVERHEAD if system else 0
    return total + sum(estimate_tokens(t) + MESSAGE_OVERHEAD for _, t in pairs)


def assemble(state: SessionState, *, budget_tokens: int, provider: str,
             bias: Sequence[BiasItem] = (), intent: str | None = None,
             window_tokens: int | None = None) -> dict[str, Any]:
    """The context window: the provider's payload plus what was included and its size.

    `window_tokens` is the provider's context window (a replay setting per provider): a
    larger budget is cut down to it (`budget_capped`), so the turns that no longer fit are
    left out, lowest-ranked (oldest) first; `turns_left_out` counts the recent turns (S1) not included.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
    current = intent if intent is not None else state.intent
    limit = min(budget_tokens, window_tokens) if window_tokens else budget_tokens
    budget = _Budget(limit)
    included = _system(state, budget, bias, current)
    turns = _choose_turns(state, budget, current, provider)
    included["turns"] = len(turns)
    system = "\n".join(budget.lines)
    pairs = conversation([speaker(t.role, t.text) for t in turns], provider)
    return {"provider": provider, "budget_tokens": budget_tokens, "window_tokens": window_tokens,
            "budget_capped": limit < budget_tokens, "turns_left_out": len(state.recent_turns) - len(turns),
            "estimated_tokens": _estimate(system, pairs), "intent": current, "seq": state.seq,
            "included": included, **render(provider, system, pairs)}
