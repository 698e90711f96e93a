"""The fold's and decoder's fast paths give exactly what the straightforward code gave.

Each oracle below is the implementation as it stood before the fast path (issue 10):
summaries, saliences and canonical bytes are compared across replicas and against
stored snapshots, so equal is not enough — they must be byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from lifeline_events import (
    Event,
    EventValidationError,
    SessionState,
    StateLimits,
    canonical_json,
    parse_new_event,
)
from lifeline_events.evolve_acts import changed
from lifeline_events.salience import score_text
from lifeline_events.state import SummaryLine, TurnRecord
from lifeline_events.summary import compress, fold_turns_into_summary, split_sentences

from .events_builders import turn
from .test_events_properties import logs, small_limits

PROPS = settings(max_examples=150, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- oracles: the code before the fast paths, verbatim ------------------------------

_FACTY = re.compile(r"(?<!\S)(?=\S*?(?:[\d@]|://))")
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[^.!?\s])\s+[A-Z]")
_SPLIT = re.compile(r"(?<=[.!?])\s+")
_SPACE = re.compile(r"\s+")


def oracle_score_text(text: str) -> float:
    words = len(text.split())
    value = 0.1
    if "?" in text:
        value += 0.1
    named = len(_FACTY.findall(text)) + len(_MID_SENTENCE_CAPITAL.findall(text))
    value += min(0.16, 0.04 * named)
    value += min(0.15, 0.002 * words)
    return round(min(1.0, max(0.0, value)), 4)


def oracle_split_sentences(text: str) -> list[str]:
    sentences = []
    for raw in _SPLIT.split(_SPACE.sub(" ", text).strip()):
        words = raw.split(" ")
        if not raw:
            continue
        if len(words) > 40:
            raw = " ".join(words[:40]) + "…"
        sentences.append(raw)
    return sentences


def oracle_turn_lines(turn: TurnRecord) -> list[SummaryLine]:
    speaker = turn.role.capitalize()
    return [
        SummaryLine(
            seq=turn.seq,
            text=f"{speaker}: {sentence}",
            salience=round(0.6 * turn.salience + 0.4 * oracle_score_text(sentence), 4),
        )
        for sentence in oracle_split_sentences(turn.text)
    ]


def oracle_truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return text[:max_chars]
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def oracle_compress(lines: Sequence[SummaryLine], budget_tokens: int) -> tuple[SummaryLine, ...]:
    max_chars = budget_tokens * 4
    total = sum(len(line.text) for line in lines) + max(0, len(lines) - 1)
    if total <= max_chars:
        return tuple(lines)
    eviction_order = sorted((line.salience, line.seq, i) for i, line in enumerate(lines))
    dropped: set[int] = set()
    for _, _, i in eviction_order:
        if total <= max_chars or len(dropped) == len(lines) - 1:
            break
        dropped.add(i)
        total -= len(lines[i].text) + 1
    survivors = [line for i, line in enumerate(lines) if i not in dropped]
    if len(survivors) == 1 and len(survivors[0].text) > max_chars:
        only = survivors[0]
        survivors = [only.model_copy(update={"text": oracle_truncate(only.text, max_chars)})]
    return tuple(survivors)


def oracle_fold_turns(
    lines: Sequence[SummaryLine], evicted: Iterable[TurnRecord], budget_tokens: int
) -> tuple[tuple[SummaryLine, ...], str]:
    merged = list(lines)
    for t in evicted:
        merged.extend(oracle_turn_lines(t))
    kept = oracle_compress(merged, budget_tokens)
    return kept, " ".join(line.text for line in kept)


def oracle_canonical_json(state: BaseModel) -> bytes:
    return orjson.dumps(state.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


# --- strategies ------------------------------------------------------------------------

_WORDS = ["veneers", "Anna", "price", "12", "a@b.c", "https://x.y/z", "ok", "March", "yes",
          "why?", "end.", "Wow!", "", "  ", "\t", "\u00a0", "\u2003", "\x1c", "\n", "e.g.",
          "Dr", "é", "٣", "x:y", "…"]
texts = st.one_of(
    st.lists(st.sampled_from(_WORDS), max_size=60).map(" ".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.lists(st.sampled_from(["w", "W1", "x."]), min_size=35, max_size=95).map(" ".join),
)
saliences = st.sampled_from([0.0, 0.1, 0.5, 0.5, 1.0]) | st.floats(0, 1)
turn_records = st.builds(
    TurnRecord, seq=st.integers(1, 30), role=st.sampled_from(["user", "assistant", "system"]),
    text=texts, salience=saliences,
)
summary_lines = st.builds(
    SummaryLine, seq=st.integers(1, 30), text=texts, salience=saliences,
)


# --- tests -----------------------------------------------------------------------------


@PROPS
@given(texts)
def test_split_sentences_matches_the_regex_oracle(text: str) -> None:
    """Whitespace normalised by str.split() splits and caps exactly as the \\s+ regex did."""
    assert split_sentences(text) == oracle_split_sentences(text)


@pytest.mark.parametrize("n", [39, 40, 41, 42])
def test_the_word_cap_starts_at_forty_one_words(n: int) -> None:
    """A sentence of exactly 40 words is kept whole; from 41 words it is cut to 40 + "…"."""
    text = " ".join(["w"] * n) + ". Next one."
    assert split_sentences(text) == oracle_split_sentences(text)


@PROPS
@given(texts)
def test_score_text_matches_the_oracle(text: str) -> None:
    """The inlined text scorer gives the old float, bit for bit."""
    assert score_text(text).hex() == oracle_score_text(text).hex()


@PROPS
@given(st.lists(summary_lines, max_size=12), st.integers(1, 80))
def test_compress_matches_the_oracle(lines: list[SummaryLine], budget: int) -> None:
    """Same survivors, same order, same truncation, for any lines and budget."""
    assert compress(lines, budget) == oracle_compress(lines, budget)


@PROPS
@given(st.lists(summary_lines, max_size=8),
       st.lists(st.lists(turn_records, max_size=3), min_size=1, max_size=12),
       st.integers(8, 80))
def test_folding_turns_into_the_summary_matches_the_oracle(
    start: list[SummaryLine], batches: list[list[TurnRecord]], budget: int
) -> None:
    """Step after step, each output fed back in, the lines and text equal the oracle's."""
    mine: tuple[SummaryLine, ...] = tuple(start)
    theirs: tuple[SummaryLine, ...] = tuple(start)
    for evicted in batches:
        mine, text = fold_turns_into_summary(mine, evicted, budget)
        theirs, oracle_text = oracle_fold_turns(theirs, evicted, budget)
        assert (mine, text) == (theirs, oracle_text)
        assert len(text) <= budget * 4 or len(mine) == 1


@PROPS
@given(logs(max_events=40), small_limits)
def test_canonical_json_of_folded_states_matches_the_oracle(
    events: list[Event], limits: StateLimits
) -> None:
    """Every intermediate state of a fold serialises to the oracle's bytes."""
    from lifeline_events import apply

    state = SessionState(limits=limits)
    for e in events:
        state = apply(state, e)
        assert canonical_json(state) == oracle_canonical_json(state)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@PROPS
@given(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=8))
def test_canonical_json_writes_facts_as_pydantic_did(facts: dict[str, Any]) -> None:
    """Facts of any JSON shape (floats, nesting, unicode keys) give the oracle's bytes."""
    state = SessionState.model_validate({"confirmed_facts": facts, "seq": 3})
    assert canonical_json(state) == oracle_canonical_json(state)
    assert canonical_json(state) == canonical_json(state.model_dump(mode="json"))


def test_changed_is_model_copy() -> None:
    """The fold's copy equals pydantic's, fields-set included, and leaves the original."""
    state = SessionState(seq=4, intent="x")
    update = {"seq": 5, "summary": "s", "recent_turns": ()}
    mine, theirs = changed(state, update), state.model_copy(update=update)
    assert mine == theirs
    assert mine.__pydantic_fields_set__ == theirs.__pydantic_fields_set__
    assert canonical_json(mine) == canonical_json(theirs)
    assert state.seq == 4 and state.summary == ""


def _wire(payload: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = turn(1, "hi").model_dump(mode="json")
    body["payload"] = payload
    body.update(over)
    return body


@pytest.mark.parametrize("encode", [orjson.dumps, lambda d: orjson.dumps(d).decode(), dict])
@pytest.mark.parametrize(("body", "loc"), [
    (_wire({"role": "user", "text": "a\u0000b"}), "payload.text"),
    (_wire({"role": "user", "text": "hi", "acts": [
        {"op": "confirm_fact", "key": "k", "value": {"x\u0000": 1}}]}), "payload.acts.0.value.x\\u0000"),
    (_wire({"role": "user", "content": "a\u0000b"}, schema_version=1), "payload.text"),
    (_wire({"role": "user", "text": "hi"}, person_id="p\u0000"), "person_id"),
])
def test_from_json_refuses_a_nul_from_bytes_str_or_dict_alike(
    encode: Any, body: dict[str, Any], loc: str
) -> None:
    """The raw-text shortcut still sends every real NUL to the check naming the field."""
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(encode(body))
    assert [(e["loc"], e["type"]) for e in exc.value.errors] == [(loc, "nul_character")]


def test_from_json_keeps_a_literal_backslash_u0000_as_text() -> None:
    """An escaped backslash before u0000 is six characters of text, not a NUL."""
    raw = orjson.dumps(_wire({"role": "user", "text": "\\u0000"}))
    assert b"\\\\u0000" in raw
    assert Event.from_json(raw).payload.text == "\\u0000"  # type: ignore[union-attr]


@pytest.mark.parametrize(("traceparent", "ok"), [
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", True),
    ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n", True),  # as `$` allows
    ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),
])
def test_traceparent_rules_are_unchanged(traceparent: str, ok: bool) -> None:
    """Zero ids and upper-case hex are refused at ``traceparent``, as before."""
    raw = orjson.dumps(_wire({"role": "user", "text": "hi"}, traceparent=traceparent))
    if ok:
        assert Event.from_json(raw).traceparent == traceparent
    else:
        with pytest.raises(EventValidationError) as exc:
            Event.from_json(raw)
        assert [e["loc"] for e in exc.value.errors] == ["traceparent"]


def test_a_current_event_is_not_copied_by_the_upcast_yet_old_ones_are_upcast() -> None:
    """schema_version 2 skips the upcaster; 1 renames ``content``; 3 is refused by field."""
    v2 = Event.from_json(orjson.dumps(_wire({"role": "user", "text": "hi"})))
    v1 = Event.from_json(orjson.dumps(_wire({"role": "user", "content": "hi"}, schema_version=1)))
    assert v1 == v2
    with pytest.raises(EventValidationError) as exc:
        Event.from_json(orjson.dumps(_wire({"role": "user", "text": "hi"}, schema_version=3)))
    assert [e["loc"] for e in exc.value.errors] == ["schema_version"]


@pytest.mark.parametrize("event_type", [[], {}, ["turn.recorded"]])
@pytest.mark.parametrize("schema_version", [None, 1, 2])
def test_an_event_type_that_is_no_string_is_a_field_error_not_a_crash(
    event_type: Any, schema_version: Any
) -> None:
    """A list or object as event_type is refused at ``event_type`` (was a TypeError)."""
    body = {"event_type": event_type, "payload": {}, "schema_version": schema_version}
    for parse in (Event.from_json, parse_new_event):
        with pytest.raises(EventValidationError) as exc:
            parse(orjson.dumps(body))
        assert "event_type" in [e["loc"] for e in exc.value.errors]


flat_parts = st.fixed_dictionaries({
    "objectives": st.lists(st.builds(dict, id=texts, text=texts, priority=st.integers(-5, 5),
                                     seq=st.integers(0, 99)), max_size=3),
    "pins": st.lists(st.builds(dict, id=texts, text=texts, seq=st.integers(0, 99)), max_size=3),
    "episodes": st.lists(st.builds(dict, text=texts, salience=saliences | st.integers(0, 1),
                                   seq=st.integers(0, 99)), max_size=3),
    "recent_turns": st.lists(turn_records.map(lambda t: t.model_dump()), max_size=3),
    "summary_lines": st.lists(summary_lines.map(lambda s: s.model_dump()), max_size=3),
    "flags": st.dictionaries(texts, st.builds(dict, count=st.integers(0, 9), detail=st.none() | texts,
                                              last_seq=st.integers(0, 99)), max_size=3),
    "model_stats": st.dictionaries(texts, st.builds(
        dict, calls=st.integers(0, 9), score_sum=saliences | st.integers(0, 3),
        latency_ms_total=st.integers(0, 10**6)), max_size=3),
    "limits": small_limits.map(lambda limits: limits.model_dump()),
})


@PROPS
@given(flat_parts)
def test_canonical_json_writes_the_flat_parts_as_pydantic_did(parts: dict[str, Any]) -> None:
    """Turns, lines, pins, episodes, objectives, flags, model statistics and limits written
    from their `__dict__` give the oracle's bytes (ints given for floats included)."""
    state = SessionState.model_validate({**parts, "seq": 7, "summary": "s", "person_id": "p-1"})
    assert canonical_json(state) == oracle_canonical_json(state)
    assert canonical_json(state) == canonical_json(state.model_dump(mode="json"))


plain_fields = st.fixed_dictionaries({
    "tenant_id": st.none() | texts, "session_id": st.none() | texts, "person_id": st.none() | texts,
    "seq": st.integers(0, 2**62), "turn_count": st.integers(0, 99),
    "last_turn_id": st.none() | st.integers(0, 99),
    "started": st.booleans(), "finished": st.booleans(), "finish_reason": st.none() | texts,
    "restored_from": st.none() | texts, "stage": st.none() | texts, "intent": st.none() | texts,
    "retracted_facts": st.lists(texts, max_size=3), "completed_objectives": st.lists(texts, max_size=3),
    "summary": texts, "error_counts": st.dictionaries(texts, st.integers(0, 9), max_size=3),
    "strength_counts": st.dictionaries(texts, st.integers(0, 9), max_size=3),
    "skill_tag_counts": st.dictionaries(texts, st.integers(0, 9), max_size=3),
    "evaluation_count": st.integers(0, 99),
    "last_evaluation_score": st.none() | saliences | st.integers(0, 10),
    "room": st.none() | st.builds(dict, lock_token=st.integers(0, 9), policy=st.none() | st.builds(
        dict, conflict_strategy=st.none() | texts, provider_priority=st.lists(texts, max_size=2))),
    "branched_from": st.none() | st.builds(dict, parent_session_id=texts, from_seq=st.integers(1, 99),
                                           name=st.none() | texts),
})


@PROPS
@given(plain_fields)
def test_canonical_json_writes_the_states_own_fields_as_pydantic_did(fields: dict[str, Any]) -> None:
    """Ids, counters, stage, summary text, tuples of names, counts (ints given for floats
    included) written from the state's `__dict__`, and a room or branch origin present or
    absent, give the oracle's bytes; an absent room or origin is left out, as before."""
    state = SessionState.model_validate(fields)
    assert canonical_json(state) == oracle_canonical_json(state)
    assert canonical_json(state) == canonical_json(state.model_dump(mode="json"))
    written = orjson.loads(canonical_json(state))
    assert ("room" in written) is (fields["room"] is not None)
    assert ("branched_from" in written) is (fields["branched_from"] is not None)
