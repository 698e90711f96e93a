"""The context window: ranking, budget, intent, retracted facts and provider formats."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import Objective, PinnedItem, SessionState, TurnRecord, estimate_tokens
from lifeline_replay.bias import BiasItem
from lifeline_replay.context import CONTINUATION, PROVIDERS, assemble


def _turn(seq: int, text: str, role: str = "user", intent: str | None = "booking") -> TurnRecord:
    return TurnRecord(seq=seq, turn_id=seq, role=role, text=text, intent=intent)


def _state(**update: object) -> SessionState:
    base = {
        "seq": 12, "intent": "booking", "summary": "User asked about veneers. Price was discussed.",
        "pins": (PinnedItem(id="p2", text="Prefers mornings", seq=9),
                 PinnedItem(id="p1", text="Anna", seq=3)),
        "objectives": (Objective(id="o1", text="book a visit", priority=5, seq=4),
                       Objective(id="o2", text="send price list", priority=1, seq=5)),
        "confirmed_facts": {"service": "veneers", "budget": 900},
        "recent_turns": tuple(_turn(i, f"turn {i} text", "user" if i % 2 else "assistant")
                              for i in range(3, 13)),
    }
    return SessionState(**{**base, **update})


def _texts(window: dict) -> str:
    return "\n".join([window.get("system", "")] + [m["content"] for m in window.get("messages", [])])


def test_sections_come_in_rank_order() -> None:
    """Summary, pins (newest first), facts, objectives (by priority), bias, then turns in order."""
    window = assemble(_state(), budget_tokens=10_000, provider="openai", bias=[BiasItem("practise closing")])
    system = window["messages"][0]["content"]
    order = ["Conversation summary", "Prefers mornings", "Anna", "Known facts", "- budget: 900",
             "- service: veneers", "book a visit", "send price list", "practise closing"]
    positions = [system.index(marker) for marker in order]
    assert positions == sorted(positions)
    turns = [m["content"] for m in window["messages"][1:]]
    assert turns == [f"turn {i} text" for i in range(3, 13)]
    assert window["included"] == {"summary": 1, "pins": 2, "facts": 2, "objectives": 2, "bias": 1,
                                  "turns": 10}


def test_budget_is_never_exceeded_and_lower_ranks_go_first() -> None:
    """A small budget keeps the summary and pins and drops turns before objectives."""
    full = assemble(_state(), budget_tokens=10_000, provider="openai")
    small = assemble(_state(), budget_tokens=60, provider="openai")
    assert small["estimated_tokens"] <= 60 < full["estimated_tokens"]
    assert small["included"]["summary"] == 1 and small["included"]["turns"] < 10
    tiny = assemble(_state(), budget_tokens=3, provider="openai")
    assert tiny["messages"] == [] and tiny["estimated_tokens"] == 0


def test_most_recent_turns_win_when_only_some_fit() -> None:
    """With room for a few turns, the newest are kept and rendered oldest first."""
    state = _state(summary="", pins=(), objectives=(), confirmed_facts={})
    per_turn = estimate_tokens("turn 10 text") + 4
    window = assemble(state, budget_tokens=3 * per_turn, provider="openai")
    assert [m["content"] for m in window["messages"]] == ["turn 10 text", "turn 11 text", "turn 12 text"]


def test_turns_of_another_intent_rank_below_the_current_one() -> None:
    """A newer turn of another intent loses its place to older turns of the current intent."""
    turns = (_turn(1, "old booking talk"), _turn(2, "older booking talk", "assistant"),
             _turn(3, "billing detour", intent="billing"))
    state = SessionState(seq=3, intent="booking", recent_turns=turns)
    per_turn = estimate_tokens("older booking talk") + 4
    window = assemble(state, budget_tokens=2 * per_turn, provider="openai")
    assert [m["content"] for m in window["messages"]] == ["old booking talk", "older booking talk"]
    as_billing = assemble(state, budget_tokens=2 * per_turn, provider="openai", intent="billing")
    assert "billing detour" in _texts(as_billing)


def test_bias_of_the_current_intent_ranks_first() -> None:
    """Long-term bias items tied to another intent come after those that match."""
    bias = [BiasItem("billing habit", "billing"), BiasItem("booking habit", "booking"), BiasItem("general")]
    system = assemble(_state(), budget_tokens=10_000, provider="anthropic", bias=bias)["system"]
    assert system.index("booking habit") < system.index("general") < system.index("billing habit")


def test_retracted_facts_never_appear() -> None:
    """A retracted fact, and a pin named after it, are absent even if still in the state."""
    state = _state(confirmed_facts={"service": "veneers", "budget": 900}, retracted_facts=("budget",),
                   pins=(PinnedItem(id="budget", text="budget is 900", seq=8),))
    text = _texts(assemble(state, budget_tokens=10_000, provider="openai"))
    assert "900" not in text and "veneers" in text


def test_anthropic_format_has_separate_system_and_user_first() -> None:
    """Anthropic: `system` apart, messages alternate and open with the user."""
    window = assemble(_state(), budget_tokens=10_000, provider="anthropic")
    assert window["system"].startswith("Conversation summary")
    roles = [m["role"] for m in window["messages"]]
    assert roles[0] == "user" and all(a != b for a, b in itertools.pairwise(roles))
    assert set(roles) <= {"user", "assistant"}


def test_gemini_format_uses_contents_with_user_and_model() -> None:
    """Gemini: `contents` with roles user/model and text parts; the system text is an instruction."""
    state = _state(recent_turns=(_turn(11, "hi"), _turn(12, "hello!", "assistant")))
    window = assemble(state, budget_tokens=10_000, provider="gemini")
    assert window["contents"] == [{"role": "user", "parts": [{"text": "hi"}]},
                                  {"role": "model", "parts": [{"text": "hello!"}]}]
    assert window["system_instruction"]["parts"][0]["text"].startswith("Conversation summary")


def test_a_window_opening_with_the_assistant_gets_a_user_opener() -> None:
    """Anthropic and Gemini need the user first: a short opener is added (OpenAI keeps as is)."""
    state = SessionState(seq=2, recent_turns=(_turn(2, "welcome back", "assistant"),))
    assert assemble(state, budget_tokens=100, provider="anthropic")["messages"][0]["content"] == CONTINUATION
    assert assemble(state, budget_tokens=100, provider="openai")["messages"][0]["role"] == "assistant"


def test_system_and_tool_turns_are_spoken_on_the_user_side() -> None:
    """System and tool turns become labelled user messages, consecutive ones merged."""
    state = SessionState(seq=3, recent_turns=(_turn(1, "price?"), _turn(2, "900 EUR", "tool"),
                                              _turn(3, "ok", "assistant")))
    messages = assemble(state, budget_tokens=100, provider="anthropic")["messages"]
    assert messages == [{"role": "user", "content": "price?\n\nTool: 900 EUR"},
                        {"role": "assistant", "content": "ok"}]


def test_unknown_provider_is_refused() -> None:
    """Only the three provider formats exist."""
    with pytest.raises(ValueError, match="provider"):
        assemble(_state(), budget_tokens=100, provider="llama")


@settings(max_examples=60, deadline=None, database=None)
@given(budget=st.integers(1, 400), provider=st.sampled_from(PROVIDERS),
       n_turns=st.integers(0, 12), words=st.integers(1, 30))
def test_any_budget_is_respected_and_the_result_is_deterministic(budget: int, provider: str, n_turns: int,
                                                                 words: int) -> None:
    """For any budget and provider the estimate stays within it, and the same input gives the same output."""
    turns = tuple(_turn(i, " ".join(["word"] * words), "assistant" if i % 3 else "user",
                        intent=("booking", "billing", None)[i % 3]) for i in range(1, n_turns + 1))
    state = _state(recent_turns=turns)
    first = assemble(state, budget_tokens=budget, provider=provider, bias=[BiasItem("x " * words)])
    again = assemble(state, budget_tokens=budget, provider=provider, bias=[BiasItem("x " * words)])
    assert first == again and first["estimated_tokens"] <= budget
