"""Readiness waits for the bus's first join, unless the broker does not answer at all."""

from __future__ import annotations

from dataclasses import dataclass

from lifeline_servicekit import bus_joined_check


@dataclass
class _Bus:
    """Only what the check reads of a bus: whether it started, whether the broker answers."""

    started: bool
    answers: bool

    async def ping(self) -> bool:
        return self.answers


async def test_a_bus_that_answers_but_has_not_joined_is_not_ready() -> None:
    check = bus_joined_check(lambda: _Bus(started=False, answers=True))  # type: ignore[arg-type, return-value]
    passed, detail = await check.probe()
    assert check.critical and not passed
    assert "joining the bus" in detail


async def test_a_joined_bus_is_ready_whatever_the_broker_says_now() -> None:
    for answers in (True, False):
        check = bus_joined_check(lambda a=answers: _Bus(started=True, answers=a))  # type: ignore[arg-type, misc]
        assert await check.probe() == (True, "ok")


async def test_an_unreachable_broker_does_not_hold_readiness_back() -> None:
    check = bus_joined_check(lambda: _Bus(started=False, answers=False))  # type: ignore[arg-type, return-value]
    passed, detail = await check.probe()
    assert passed and "unreachable" in detail
