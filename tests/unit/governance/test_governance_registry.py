"""Manual transitions (spec §B.3) and the fold of the decision log."""

from __future__ import annotations

import pytest

from lifeline_governance.errors import QuarantinedError, StateMismatchError, TransitionRefusedError
from lifeline_governance.registry import Change, FoldError, fold, plan_manual

from .governance_builders import snapshot

SNAP = snapshot(("a", "PRIMARY"), ("b", "CANDIDATE"), ("c", "ACTIVE"), ("d", "QUARANTINED"), ("e", "SHADOW"))


def test_promoting_to_primary_by_hand_is_a_swap_demotion_first() -> None:
    assert plan_manual(SNAP, "c", "PRIMARY") == [
        Change("a", "PRIMARY", "ACTIVE"),
        Change("c", "ACTIVE", "PRIMARY"),
    ]


def test_quarantining_the_primary_by_hand_fails_over_to_the_first_qualified_successor() -> None:
    assert plan_manual(SNAP, "a", "QUARANTINED", successors=["d", "e", "b"]) == [
        Change("a", "PRIMARY", "QUARANTINED"),
        Change("b", "CANDIDATE", "PRIMARY"),
    ]


@pytest.mark.parametrize(
    ("model", "to", "error"),
    [
        ("d", "SHADOW", QuarantinedError),
        ("a", "ACTIVE", TransitionRefusedError),
        ("a", "SHADOW", TransitionRefusedError),
        ("e", "PRIMARY", TransitionRefusedError),
        ("c", "CANDIDATE", TransitionRefusedError),
        ("b", "CANDIDATE", TransitionRefusedError),
    ],
)
def test_illegal_transitions_are_refused_naming_the_state(
    model: str, to: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        plan_manual(SNAP, model, to)  # type: ignore[arg-type]
    assert "state" in info.value.extra  # type: ignore[attr-defined]


def test_expected_state_is_checked() -> None:
    with pytest.raises(StateMismatchError) as info:
        plan_manual(SNAP, "b", "PRIMARY", expected_state="ACTIVE")
    assert info.value.extra["current_state"] == "CANDIDATE"


def test_fold_refuses_a_log_with_two_primaries_or_a_quarantine_exit() -> None:
    with pytest.raises(FoldError):
        fold(
            [
                Change("a", None, "SHADOW"),
                Change("a", "SHADOW", "PRIMARY"),
                Change("b", None, "SHADOW"),
                Change("b", "SHADOW", "PRIMARY"),
            ]
        )
    with pytest.raises(FoldError):
        fold(
            [
                Change("a", None, "SHADOW"),
                Change("a", "SHADOW", "QUARANTINED"),
                Change("a", "QUARANTINED", "SHADOW"),
            ]
        )
