"""A bug or an unknown shape in one event is counted and skipped; it never stops the consumer."""

from __future__ import annotations

from dataclasses import dataclass

from lifeline_memory.handlers import SKIPPED_EVENTS, _absorb_tolerant
from lifeline_memory.policy import Policy
from lifeline_memory.rules import ComplianceRule
from lifeline_memory.scalars import SessionScalars

from .builders import finished, turn


@dataclass(frozen=True)
class ExplodingRule(ComplianceRule):
    """A detector that fails on one text, standing in for any bug in the pure code."""

    def matches(self, role: str, text: str, lowered: str | None = None) -> bool:
        if "boom" in text:
            raise RuntimeError("detector bug")
        return False


def test_the_failing_event_is_skipped_and_the_rest_applied() -> None:
    """Events before and after the bad one are observed; the counter says one was skipped."""
    policy = Policy(rules=(ExplodingRule(name="x"),))
    log = [turn(1, 1, acts=[{"op": "error", "code": "a"}]), turn(2, 2, text="boom"),
           turn(3, 3, acts=[{"op": "error", "code": "b"}]), finished(4)]
    before = SKIPPED_EVENTS._value.get()
    scalars, observations = _absorb_tolerant(SessionScalars(), log, policy)
    assert [o.code for o in observations] == ["a", "b"]
    assert scalars.seq == 4 and scalars.finished is not None
    assert SKIPPED_EVENTS._value.get() == before + 1
