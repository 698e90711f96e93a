"""The bias: small, ordered as the spec says, readable by replay's parse_bias."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_memory.bias import MAX_BIAS_BYTES, order_for_intent, render_bias
from lifeline_memory.canonical import dumps
from lifeline_memory.consolidation import digest_of_log
from lifeline_memory.policy import Policy
from lifeline_memory.profile import build_profile
from lifeline_replay.bias import parse_bias

from .builders import PERSON, TENANT, finished, turn
from .strategies import sessions

POLICY = Policy()


def _profile(*logs: list) -> dict:
    p = build_profile(TENANT, PERSON, [digest_of_log(log[0].session_id, log, POLICY) for log in logs], POLICY)
    assert p is not None
    return p


def _session(sid: str, day: int, intent: str, errors: list[str], text: str = "hi") -> list:
    log = [
        turn(
            i + 1,
            i + 1,
            session=sid,
            day=day,
            intent=intent,
            text=text,
            acts=[{"op": "error", "code": c}, {"op": "strength", "code": "rapport"}],
        )
        for i, c in enumerate(errors)
    ]
    return [*log, finished(len(log) + 1, session=sid, day=day)]


def test_bias_lists_flags_then_errors_then_the_top_strength() -> None:
    """Recent flags first (weight 1.0), then frequent errors by weight, then one strength."""
    p = _profile(
        _session("a", 0, "pricing", ["price", "price", "next"], text="guaranteed!"),
        _session("b", 1, "pricing", ["price", "next"]),
    )
    bias = render_bias(p)
    kinds = [i["kind"] for i in bias["focus"]]
    assert kinds == ["flag", "error", "error", "strength"]
    assert bias["focus"][0]["weight"] == 1.0 and bias["focus"][1]["code"] == "price"
    assert bias["focus"][1]["intent"] == "pricing"
    assert bias["focus"][1]["cites"][0].startswith("b#")
    assert abs(sum(i["weight"] for i in bias["focus"][1:]) - 1.0) < 1e-3


def test_replay_reads_every_item_back() -> None:
    """Cross-package contract: replay's parse_bias reads each focus text and intent unchanged."""
    p = _profile(_session("a", 0, "pricing", ["price", "price"]), _session("b", 1, "booking", ["x", "x"]))
    bias = render_bias(p)
    parsed = parse_bias({**bias, "version": 1})
    assert [(b.text, b.intent) for b in parsed] == [(i["text"], i["intent"]) for i in bias["focus"]]


def test_intent_puts_its_items_first_and_keeps_order_otherwise() -> None:
    """?intent=booking moves booking and intent-less items ahead, stable otherwise."""
    focus = [{"intent": "pricing", "n": 1}, {"intent": None, "n": 2}, {"intent": "booking", "n": 3}]
    assert [f["n"] for f in order_for_intent(focus, "booking")] == [2, 3, 1]
    assert order_for_intent(focus, None) == focus


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sessions(), min_size=1, max_size=4), st.integers(1, 8))
def test_bias_is_small_and_deterministic(logs: list, max_items: int) -> None:
    """≤ max items, ≤ 2 KiB, each text ≤ 24 words, same bytes for equal profiles."""
    logs = [
        [e.model_copy(update={"session_id": f"s-{i}-" + "x" * 100}) for e in log]
        for i, log in enumerate(logs)
    ]
    p = _profile(*logs)
    bias = render_bias(p, max_items)
    assert len(bias["focus"]) <= max_items
    assert len(dumps({**bias, "version": 10**12})) <= MAX_BIAS_BYTES
    assert all(len(i["text"].split()) <= 24 for i in bias["focus"])
    assert dumps(render_bias(_profile(*logs), max_items)) == dumps(bias)
