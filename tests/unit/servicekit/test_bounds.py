"""Times and integers a client sends are bounded at the edge: a 422, never an overflow."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifeline_governance.api_routing import _at
from lifeline_governance.errors import InvalidRequestError
from lifeline_replay.api import ReplayRequest
from lifeline_servicekit import sane_instant
from lifeline_servicekit.params import EARLIEST

EXTREMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1800-01-01T00:00:00Z"]


@pytest.mark.parametrize("when", EXTREMES)
def test_replay_refuses_an_extreme_at(when: str) -> None:
    """Time travel to year 1 (+14:00) is a validation error naming `at`."""
    with pytest.raises(ValidationError) as exc:
        ReplayRequest.model_validate({"at": when})
    assert [e["loc"] for e in exc.value.errors()] == [("at",)]


@pytest.mark.parametrize("when", EXTREMES)
def test_governance_refuses_an_extreme_routing_at(when: str) -> None:
    """`?at=` of the routing table is a named invalid request, not an overflow."""
    with pytest.raises(InvalidRequestError):
        _at(when)


def test_a_naive_time_means_utc_and_sane_times_pass() -> None:
    """The bound leaves ordinary instants alone."""
    from datetime import datetime
    assert sane_instant(datetime(2026, 11, 30, 10)).tzinfo is not None
    assert sane_instant(EARLIEST) == EARLIEST
