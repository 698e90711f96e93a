"""Storage errors as callers see them; asyncpg's classes never leave this package."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from lifeline_common.errors import ConflictError, LifelineError, TransientError


class StoreError(LifelineError):
    """A storage operation failed for a reason retrying will not fix."""


class StoreUnavailableError(StoreError, TransientError):
    """PostgreSQL cannot be reached or is shutting down; retry later."""


class StoreConflictError(StoreError, ConflictError):
    """A uniqueness or serialization conflict: the caller's view is stale."""


_UNAVAILABLE = (
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionFailureError,
    # raised when the server vanishes in the middle of a protocol exchange
    # ("cannot switch to state …; another operation is in progress")
    asyncpg.exceptions.InternalClientError,
)


@contextmanager
def wrap_errors(what: str) -> Iterator[None]:
    """Re-raise driver errors from the block as Lifeline store errors naming `what`."""
    try:
        yield
    except (asyncpg.exceptions.UniqueViolationError,
            asyncpg.exceptions.SerializationError,
            asyncpg.exceptions.DeadlockDetectedError) as exc:
        raise StoreConflictError(f"{what}: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailableError(f"{what}: database unavailable ({exc!r})") from exc
    except asyncpg.exceptions.PostgresError as exc:
        raise StoreError(f"{what}: {exc}") from exc
