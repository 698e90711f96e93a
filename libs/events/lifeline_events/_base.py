"""Shared pydantic configuration and field types for every model in the package.

Every model is frozen (a value that crossed a boundary must not change under a
consumer's feet), forbids unknown fields (a typo is an error, not silently lost
data) and rejects NaN/Infinity (they have no JSON spelling, so they would break the
canonical form that content hashes are taken over).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

FROZEN_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FrozenModel(BaseModel):
    """Base for payloads, acts and state: immutable, strict about unknown fields."""

    model_config = FROZEN_CONFIG


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    """Normalise to UTC so equal instants serialise to equal bytes.

    An instant near year 1 or 9999 overflows Python's datetime once shifted to UTC:
    that is a value error (a 422), never an ``OverflowError`` deep in a handler.
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range once converted to UTC") from None


def _in_range(value: datetime) -> datetime:
    """Refuse instants no producer means, which PostgreSQL or arithmetic would choke on."""
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"timestamp out of range: must lie in [{EARLIEST.isoformat()}, {LATEST.isoformat()})"
        )
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, stored in UTC; naive datetimes are rejected.

Stored events read back with this type, so it has no range (a log never becomes
unreadable); what producers submit uses ``BoundedUtcDatetime``."""

BoundedUtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc), AfterValidator(_in_range)]
"""A ``UtcDatetime`` in [1900, 9000): the range accepted from producers."""


SCOPE_ID_PATTERN = r"^[A-Za-z0-9._:@-]+$"

ScopeId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=SCOPE_ID_PATTERN)]
"""Tenant, session and person ids: safe in URLs, Redis keys and Kafka keys."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
"""A short identifier chosen by a producer (fact key, objective id, model id …)."""

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
"""A counter key: error code, strength code, flag name, skill tag."""

ShortText = Annotated[str, Field(max_length=2000)]
"""Free text kept in session state (pins, episodes, objectives)."""

Score = Annotated[float, Field(ge=0.0, le=10.0)]
"""A grader's or model's score on the 0..10 scale used by governance."""

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
"""A salience or probability in 0..1."""

MAX_INT64 = 2**63 - 1

NonNegInt = Annotated[int, Strict(), Field(ge=0, le=MAX_INT64)]
"""A count or id that fits Postgres ``bigint`` (and orjson, which stops at 64 bits).

Strict: ``true`` or ``1.0`` is not a turn id or a count, so neither is coerced to 1."""
