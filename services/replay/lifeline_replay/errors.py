"""replay's errors, rooted at `lifeline_common.errors` (the tree is drawn there).

    ReplayError
    ├── SessionNotFoundError (NotFoundError)          neither replay nor ingest's log knows it
    ├── HotStoreUnavailableError (TransientError)     Redis did not answer: fall back down the ladder
    ├── RecoveryUnavailableError (TransientError)     no step of the recovery ladder answered
    └── GapError (TransientError)                     events after a cursor are unreadable for now

Redis errors become `HotStoreUnavailableError` in `hot.py`; ingest's and memory's
transport errors are mapped by their clients; no driver class reaches the routes.
"""

from __future__ import annotations

from lifeline_common.errors import LifelineError, NotFoundError, TransientError


class ReplayError(LifelineError):
    """Base of replay's errors."""


class SessionNotFoundError(ReplayError, NotFoundError):
    """Neither replay nor ingest's log knows this session (for this tenant)."""

    title = "Session not found"


class HotStoreUnavailableError(ReplayError, TransientError):
    """Redis did not answer (or answered with an error); the caller falls back."""


class RecoveryUnavailableError(ReplayError, TransientError):
    """No step of the ladder could produce a state."""


class GapError(ReplayError, TransientError):
    """Events between the cursor and the hot stream could not be read from the log."""
