"""Transcript import (issue 12 item 5): round trips between providers, and each provider's rules."""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline_events import Event, SessionState, fold
from lifeline_events.providers import PROVIDERS, render_turns
from lifeline_ingest.errors import IntakeError, IntakeTooLargeError
from lifeline_ingest.transcripts import Transcript, parse_transcript, to_events
from lifeline_replay.context import assemble

PAIRS = list(itertools.product(PROVIDERS, PROVIDERS))
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=40)


def _transcript(provider: str, system: str | None, texts: list[str]) -> dict[str, Any]:
    """A provider's own transcript, written out by hand (independent of the renderer)."""
    roles = ["user", "assistant"] * len(texts)
    if provider == "openai":
        head = [{"role": "system", "content": system}] if system is not None else []
        return {"messages": head + [{"role": r, "content": t} for r, t in zip(roles, texts, strict=False)]}
    if provider == "anthropic":
        out: dict[str, Any] = {"system": system} if system is not None else {}
        return {**out, "messages": [{"role": r, "content": t} for r, t in zip(roles, texts, strict=False)]}
    out = {"system_instruction": {"parts": [{"text": system}]}} if system is not None else {}
    return {**out, "contents": [{"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]}
                                for r, t in zip(roles, texts, strict=False)]}


def _import(provider: str, doc: dict[str, Any], **options: Any) -> Transcript:
    return parse_transcript(orjson.dumps({"provider": provider, **doc, **options}), max_turns=1000)


def _said(t: Transcript) -> list[tuple[int, str, str]]:
    return [(x.turn_id, x.role, x.text) for x in t.turns]


def _errors(provider: str, doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    with pytest.raises(IntakeError) as caught:
        _import(provider, doc)
    return {e["field"]: e for e in caught.value.errors}


@settings(max_examples=60, deadline=None)
@given(system=st.none() | TEXT, texts=st.lists(TEXT, min_size=1, max_size=8), pair=st.sampled_from(PAIRS))
def test_render_of_import_is_the_transcript_for_every_provider_pair(
        system: str | None, texts: list[str], pair: tuple[str, str]) -> None:
    """render(import(t)) == t, also after a move through the other provider: same turns, same ids."""
    source, target = pair
    t = _transcript(source, system, texts)
    imported = _import(source, t)
    as_turns = [(x.role, x.text) for x in imported.turns]
    assert render_turns(source, as_turns) == t
    moved = render_turns(target, as_turns)
    assert moved == _transcript(target, system, texts)
    back = _import(target, moved)
    assert _said(back) == _said(imported) and not back.dropped
    assert render_turns(source, [(x.role, x.text) for x in back.turns]) == t


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=10), pair=st.sampled_from(PAIRS))
def test_replays_context_window_renders_an_imported_session_in_every_format(
        texts: list[str], pair: tuple[str, str]) -> None:
    """Imported as turns, folded, and served by replay's context for another provider: nothing is lost."""
    source, target = pair
    imported = _import(source, _transcript(source, None, texts))
    events = to_events(imported, session_id="s-1", tenant_id="t-1", max_event_bytes=65_536)
    state = fold(Event.from_new(e, seq=i) for i, e in enumerate(events, 1))
    assert isinstance(state, SessionState)
    window = assemble(state, budget_tokens=1_000_000, provider=target)
    conversation = {k: v for k, v in window.items() if k in ("messages", "contents")}
    assert conversation == _transcript(target, None, texts)
    assert _said(_import(target, conversation)) == _said(imported)


def test_reimport_numbers_the_same_turns_the_same_way() -> None:
    """Turn ids are positional from first_turn_id: the top-level system prompt first, then each message."""
    doc = _transcript("anthropic", "be brief", ["hi", "hello"])
    assert _said(_import("anthropic", doc)) == [(1, "system", "be brief"), (2, "user", "hi"),
                                                (3, "assistant", "hello")]
    assert _said(_import("anthropic", doc)) == _said(_import("anthropic", doc))
    later = _import("anthropic", doc, first_turn_id=100)
    assert [x.turn_id for x in later.turns] == [100, 101, 102] and later.next_turn_id == 103
    openai = _import("openai", _transcript("openai", "be brief", ["hi", "hello"]))
    assert _said(openai) == _said(_import("anthropic", doc))


def test_what_a_text_turn_cannot_hold_is_listed_and_numbering_keeps_gaps() -> None:
    """Images, tool calls, non-text parts are dropped with index and reason; an empty message keeps its id."""
    openai = _import("openai", {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "http://x/a.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": "It is 42.", "refusal": None}]})
    assert _said(openai) == [(1, "user", "look"), (3, "tool", "42"), (4, "assistant", "It is 42.")]
    assert [(d["field"], d["index"]) for d in openai.dropped] == [
        ("messages.0.content.1", 0), ("messages.1.tool_calls", 1), ("messages.1", 1),
        ("messages.2.tool_call_id", 2)]
    assert "image_url" in openai.dropped[0]["reason"] and openai.next_turn_id == 5
    anthropic = _import("anthropic", {"system": [{"type": "text", "text": "rules"}], "messages": [
        {"role": "user", "content": [{"type": "image", "source": {}}, {"type": "text", "text": "a"},
                                     {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "x", "name": "f", "input": {}}]}]})
    assert _said(anthropic) == [(1, "system", "rules"), (2, "user", "a\n\nb")]
    assert [d["field"] for d in anthropic.dropped] == [
        "messages.0.content.0", "messages.1.content.0", "messages.1"]
    gemini = _import("gemini", {"contents": [
        {"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": ""}}]},
        {"role": "model", "parts": [{"function_call": {"name": "f"}}]}]})
    assert _said(gemini) == [(1, "user", "hi")]
    assert [d["reason"].split()[0] for d in gemini.dropped] == ['"inline_data"', '"function_call"', "no"]


def test_wrong_roles_name_the_index_and_the_fix() -> None:
    """Each provider's role vocabulary: Gemini's model, OpenAI's assistant; the fix names the right one."""
    assert "assistant" in _errors("openai", {"messages": [{"role": "model", "content": "x"}]})[
        "messages.0.role"]["fix"]
    gemini = _errors("gemini", {"contents": [{"role": "user", "parts": [{"text": "a"}]},
                                             {"role": "assistant", "parts": [{"text": "b"}]}]})
    assert '"model"' in gemini["contents.1.role"]["fix"]
    robot = _errors("openai", {"messages": [{"role": "user", "content": "a"},
                                            {"role": "robot", "content": "b"}]})
    assert "'robot'" in robot["messages.1.role"]["msg"] and '"assistant"' in robot["messages.1.role"]["fix"]


def test_system_prompt_placement_is_each_providers_own() -> None:
    """OpenAI: a system message; Anthropic: top-level system only; Gemini: system_instruction only."""
    openai = _errors("openai", {"system": "s", "messages": [{"role": "user", "content": "a"}]})
    assert '"role": "system"' in openai["system"]["fix"]
    anthropic = _errors("anthropic", {"messages": [{"role": "system", "content": "s"},
                                                   {"role": "user", "content": "a"}]})
    assert 'top-level "system"' in anthropic["messages.0.role"]["fix"]
    gemini = _errors("gemini", {"system": "s", "contents": [{"role": "user", "parts": [{"text": "a"}]}]})
    assert "system_instruction" in gemini["system"]["fix"]
    wrong_list = _errors("gemini", {"messages": [{"role": "user", "content": "a"}]})
    assert '"contents"' in wrong_list["messages"]["fix"] and "contents" in wrong_list


def test_anthropic_needs_strict_alternation_starting_with_the_user() -> None:
    """Each break of user/assistant alternation is named at the later message; the user speaks first."""
    errors = _errors("anthropic", {"messages": [
        {"role": "assistant", "content": "a"}, {"role": "user", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
        {"role": "assistant", "content": "e"}]})
    assert set(errors) == {"messages.0.role", "messages.2.role", "messages.4.role"}
    assert '"user"' in errors["messages.0.role"]["fix"] and "alternate" in errors["messages.2.role"]["fix"]
    openai_allows_it = _import("openai", {"messages": [{"role": "user", "content": "b"},
                                                      {"role": "user", "content": "c"}]})
    assert len(openai_allows_it.turns) == 2


def test_empty_and_malformed_transcripts_are_refused() -> None:
    """No messages, no text at all, no known provider, unknown fields: 422 naming the field."""
    assert "messages" in _errors("openai", {"messages": []})
    assert "contents" in _errors("gemini", {})
    only_images = _errors("openai", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})
    assert only_images["messages"]["msg"] == "no message has text"
    with pytest.raises(IntakeError) as caught:
        parse_transcript(b'{"provider": ["openai"]}', max_turns=10)
    assert caught.value.errors[0]["field"] == "provider"
    with pytest.raises(IntakeError):
        parse_transcript(b"[1]", max_turns=10)
    extra = _errors("openai", {"messages": [{"role": "user", "content": "a", "parts": []}], "temperature": 1})
    assert {"temperature", "messages.0.parts"} <= set(extra)
    assert "first_turn_id" in _errors("openai", {"messages": [{"role": "user", "content": "a"}],
                                                 "first_turn_id": -1})


def test_limits_and_event_validation_are_named_by_source() -> None:
    """Over the turn limit is 413; a text the turn model refuses names its message."""
    doc = {"provider": "openai", "messages": [{"role": "user", "content": "a"}] * 3}
    with pytest.raises(IntakeTooLargeError):
        parse_transcript(orjson.dumps(doc), max_turns=2)
    long = _import("openai", {"messages": [{"role": "user", "content": "ok"},
                                           {"role": "assistant", "content": "x" * 40_000}]})
    with pytest.raises(IntakeError) as caught:
        to_events(long, session_id="s", tenant_id="t", max_event_bytes=1_000_000)
    assert caught.value.errors[0]["field"] == "messages.1"
    with pytest.raises(IntakeTooLargeError):
        to_events(long, session_id="s", tenant_id="t", max_event_bytes=1_000)


def test_a_providers_context_window_caps_the_budget_and_says_so() -> None:
    """A budget above the provider's window is cut to it; the oldest turns go and the answer counts them."""
    texts = ["word " * 40] * 10
    imported = _import("anthropic", _transcript("anthropic", None, texts))
    events = to_events(imported, session_id="s-1", tenant_id="t-1", max_event_bytes=65_536)
    state = fold(Event.from_new(e, seq=i) for i, e in enumerate(events, 1))
    whole = assemble(state, budget_tokens=100_000, provider="anthropic", window_tokens=100_000)
    assert not whole["budget_capped"] and whole["turns_left_out"] == 0
    capped = assemble(state, budget_tokens=100_000, provider="anthropic", window_tokens=200)
    assert capped["budget_capped"] and capped["window_tokens"] == 200
    assert capped["estimated_tokens"] <= 200
    assert capped["turns_left_out"] == 10 - capped["included"]["turns"] > 0
    assert capped["messages"][-1] == whole["messages"][-1]  # the newest turn stays


def test_empty_texts_and_thoughts_are_dropped_and_the_writer_is_an_option() -> None:
    """An empty message is not a turn, a Gemini thought is not the answer; participant_id is checked."""
    openai = _import("openai", {"messages": [{"role": "user", "content": ""},
                                             {"role": "user", "content": "a"}]}, participant_id="dm-1")
    assert _said(openai) == [(2, "user", "a")] and openai.participant_id == "dm-1"
    assert openai.dropped == [{"field": "messages.0", "index": 0,
                               "reason": "no text: the message is not imported"}]
    gemini = _import("gemini", {"contents": [{"role": "model", "parts": [
        {"text": "let me think", "thought": True}, {"text": "Yes."}]}]})
    assert _said(gemini) == [(1, "assistant", "Yes.")] and '"thought"' in gemini.dropped[0]["reason"]
    assert "participant_id" in _errors("openai", {"messages": [{"role": "user", "content": "a"}],
                                                  "participant_id": "no spaces allowed"})


JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["role", "content", "parts", "text", "type", "thought", "system",
                                         "name", "x"]), inner, max_size=3), max_leaves=12)
MESSAGE = st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["user", "assistant", "model", "system", "tool", "function"]) | JSON,
    "content": JSON, "parts": JSON, "tool_calls": JSON, "x": JSON})


@settings(max_examples=120, deadline=None)
@given(provider=st.sampled_from([*PROVIDERS, "llama"]) | JSON, items=st.lists(MESSAGE, max_size=4) | JSON,
       system=JSON, first=st.none() | st.integers(-2, 2**64))
def test_any_body_is_a_transcript_or_a_named_refusal(provider: Any, items: Any, system: Any,
                                                     first: Any) -> None:
    """Whatever the shape, the answer is turns or an IntakeError naming fields (never a crash)."""
    doc = {"provider": provider, "messages": items, "contents": items, "system": system,
           "system_instruction": system, "first_turn_id": first}
    try:
        body = json.dumps({k: v for k, v in doc.items() if v is not None}).encode()
        transcript = parse_transcript(body, max_turns=10)
        to_events(transcript, session_id="s", tenant_id="t", max_event_bytes=65_536)
    except IntakeError as exc:
        assert exc.errors and all(e["field"] is not None for e in exc.errors)
