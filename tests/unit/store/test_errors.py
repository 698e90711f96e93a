"""Driver errors leave lifeline_store only as Lifeline's own classes."""

from __future__ import annotations

import asyncpg
import pytest

from lifeline_common.errors import TransientError
from lifeline_store import StoreConflictError, StoreError, StoreUnavailableError, wrap_errors


@pytest.mark.parametrize("driver_error", [
    ConnectionRefusedError(111, "refused"),
    asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
    asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    TimeoutError(),
])
def test_connection_failures_are_transient(driver_error: Exception) -> None:
    """A lost or refused connection becomes StoreUnavailableError, which callers retry (HTTP 503)."""
    with pytest.raises(StoreUnavailableError) as caught, wrap_errors("append"):
        raise driver_error
    assert isinstance(caught.value, TransientError) and "append" in str(caught.value)


def test_unique_violation_is_a_conflict() -> None:
    """A uniqueness violation becomes StoreConflictError: the caller's view is stale."""
    with pytest.raises(StoreConflictError), wrap_errors("append"):
        raise asyncpg.exceptions.UniqueViolationError("duplicate key")


def test_other_server_errors_are_store_errors_not_transient() -> None:
    """Any other server error is a StoreError that retrying will not fix."""
    with pytest.raises(StoreError) as caught, wrap_errors("append"):
        raise asyncpg.exceptions.UndefinedTableError("no such table")
    assert not isinstance(caught.value, TransientError)
