"""The routing match order (intent PRIMARY → intent fallback → `*` → none) and the
deterministic canary and mirror choices."""

from __future__ import annotations

from lifeline_governance.route import IntentRoutes, RouteModel, answer, sampled


def m(
    model_id: str, state: str, es: float | None = 5.0, traffic: float = 0.0, shadow: float = 0.0
) -> RouteModel:
    return RouteModel(model_id, state, "2026-11-30T00:00:00+00:00", 1, es, traffic, shadow)


TABLE = {
    "pricing": IntentRoutes(
        "pricing",
        (
            m("a", "PRIMARY"),
            m("b", "CANDIDATE", traffic=0.5),
            m("c", "SHADOW", shadow=0.5),
            m("old", "ACTIVE", 4.0),
        ),
    ),
    "billing": IntentRoutes("billing", (m("x", "ACTIVE", 3.0), m("y", "ACTIVE", 6.0), m("q", "QUARANTINED"))),
    "empty": IntentRoutes("empty", (m("q", "QUARANTINED"),)),
    "*": IntentRoutes("*", (m("g", "PRIMARY"),)),
}


def test_the_intents_primary_comes_first_with_fallbacks_and_mirrors() -> None:
    r = answer("t", "pricing", TABLE, 7)
    assert r is not None
    assert (r["model_id"], r["matched"], r["reason"], r["degraded"]) == ("a", "pricing", "primary", False)
    assert [f["model_id"] for f in r["fallbacks"]] == ["old"]
    assert r["canary"] == [{"model_id": "b", "traffic": 0.5}]
    assert r["mirror"] == [{"model_id": "c", "sample_rate": 0.5}] and r["as_of_seq"] == 7


def test_without_a_primary_the_best_active_answers_degraded() -> None:
    r = answer("t", "billing", TABLE, 7)
    assert r is not None and (r["model_id"], r["degraded"], r["matched"]) == ("y", True, "billing")


def test_nothing_usable_falls_to_the_global_route_then_to_none() -> None:
    for intent in ("empty", "never-seen"):
        r = answer("t", intent, TABLE, 7)
        assert r is not None and (r["model_id"], r["matched"], r["intent"]) == ("g", "*", intent)
    assert answer("t", "x", {k: v for k, v in TABLE.items() if k != "*"}, 7) is None


def test_canary_and_mirror_choices_are_deterministic_and_near_their_share() -> None:
    keys = [f"s-{i}" for i in range(2000)]
    chosen = [answer("t", "pricing", TABLE, 7, k) for k in keys]
    assert chosen == [answer("t", "pricing", TABLE, 7, k) for k in keys]
    canary = sum(1 for r in chosen if r and r["model_id"] == "b")
    assert 850 < canary < 1150
    mirrored = sum(1 for r in chosen if r and r["mirror_to"] == ["c"])
    assert 850 < mirrored < 1150
    assert not sampled("t", "pricing", "b", "k", 0.0) and sampled("t", "pricing", "b", "k", 1.0)
