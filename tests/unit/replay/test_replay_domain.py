"""replay's pure rules: snapshot positions, message shapes, contiguity, bias parsing, purity."""

from __future__ import annotations

import orjson

from lifeline_replay import keys
from lifeline_replay.bias import BiasItem, parse_bias
from lifeline_replay.domain import (
    contiguous_after,
    event_message,
    recovery_sync,
    snapshot_due,
    staleness,
    state_document,
)


def test_snapshots_sit_at_fixed_positions() -> None:
    """Every N-th seq is a snapshot position, the same for every replica."""
    assert [s for s in range(1, 301) if snapshot_due(s, 100)] == [100, 200, 300]


def test_state_document_wraps_the_stored_bytes_unchanged() -> None:
    """GET state's body carries the canonical state bytes verbatim next to seq, mode and staleness."""
    raw = b'{"seq":7,"stage":"x"}'
    body = state_document(session_id="s", tenant_id="t", seq=7, mode="replay",
                          stale=staleness("replay", "2025-01-01T00:00:00+00:00"), state_json=raw)
    doc = orjson.loads(body)
    assert doc["state"] == {"seq": 7, "stage": "x"} and raw in body
    assert doc["mode"] == "replay" and doc["staleness"]["stale"] is False


def test_cold_and_behind_states_are_stale() -> None:
    """`cold` is flagged stale with its reason; `replay` only when behind the log (with the lag)."""
    assert staleness("cold", None, "redis and ingest down").as_dict() == {
        "stale": True, "as_of": None, "reason": "redis and ingest down", "lag": None}
    assert not staleness("log", None).stale
    assert not staleness("replay", None, lag=0).stale
    assert staleness("replay", None, "behind", lag=4, behind=True).as_dict()["lag"] == 4


def test_recovery_sync_names_the_recovered_fields() -> None:
    """RECOVERY_SYNC carries stage, facts, summary, objectives, pins, seq, mode and staleness."""
    state = {"stage": "discovery", "confirmed_facts": {"a": 1}, "summary": "s", "objectives": [],
             "pins": [], "seq": 4}
    sync = orjson.loads(recovery_sync(state, session_id="s", seq=4, mode="log", stale=staleness("log", None)))
    assert sync["type"] == "RECOVERY_SYNC" and sync["seq"] == 4 and sync["mode"] == "log"
    assert {"stage", "confirmed_facts", "summary", "objectives", "pins", "staleness"} <= set(sync)


def test_event_message_embeds_the_event_json() -> None:
    """A live event is sent as {type: EVENT, seq, event} around the stored bytes."""
    assert orjson.loads(event_message(5, b'{"seq":5}')) == {"type": "EVENT", "seq": 5, "event": {"seq": 5}}


def test_contiguity_counts_the_run_after_the_cursor() -> None:
    """Only the run continuing exactly from the cursor counts; a hole ends it."""
    assert contiguous_after([4, 5, 6], 3) == 3
    assert contiguous_after([4, 6], 3) == 1
    assert contiguous_after([5], 3) == 0 and contiguous_after([], 3) == 0


def test_hot_entry_ids_encode_the_seq() -> None:
    """Entry `{seq}-1` maps back to seq, and keys carry the tenant."""
    assert keys.seq_of(keys.entry_id(42).encode()) == 42
    assert keys.hot_stream("t1", "s") != keys.hot_stream("t2", "s")


def test_bias_answers_are_read_leniently() -> None:
    """Strings, {text, intent} items under focus/items/bias, or a summary all give bias items."""
    assert parse_bias({"focus": ["a", {"text": "b", "intent": "x"}, 3, {"nope": 1}]}) == [
        BiasItem("a"), BiasItem("b", "x")]
    assert parse_bias(["c"]) == [BiasItem("c")]
    assert parse_bias({"summary": "work on objections"}) == [BiasItem("work on objections")]
    assert parse_bias(None) == [] and parse_bias({"items": "bad"}) == []


def test_recovery_sync_carries_the_room_only_when_there_is_one() -> None:
    """A collaborative session's sync names its room (participants, locks); others' syncs are as before."""
    room = {"participants": {"dm": {"role": "owner", "joined_seq": 1}}, "locks": {}, "lock_token": 0}
    with_room = orjson.loads(recovery_sync({"seq": 1, "room": room}, session_id="s", seq=1, mode="log",
                                           stale=staleness("log", None)))
    assert with_room["room"] == room
    assert "room" not in orjson.loads(recovery_sync({"seq": 1}, session_id="s", seq=1, mode="log",
                                                   stale=staleness("log", None)))
