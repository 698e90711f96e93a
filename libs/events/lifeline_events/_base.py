"""Shared pydantic configuration and field types for every model in the package.

Every model is frozen (a value that crossed a boundary must not change under a
consumer's feet), forbids unknown fields (a typo is an error, not silently lost
data) and rejects NaN/Infinity (they have no JSON spelling, so they would break the
canonical form that content hashes are taken over).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

FROZEN_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FrozenModel(BaseModel):
    """Base for payloads, acts and state: immutable, strict about unknown fields."""

    model_config = FROZEN_CONFIG


def _to_utc(value: datetime) -> datetime:
    """Normalise to UTC so equal instants serialise to equal bytes."""
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, stored in UTC; naive datetimes are rejected."""

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

NonNegInt = Annotated[int, Field(ge=0, le=MAX_INT64)]
"""A count or id that fits Postgres ``bigint`` (and orjson, which stops at 64 bits)."""
