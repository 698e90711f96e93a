"""ingest's errors, rooted at `lifeline_common.errors` (the tree is drawn there).

    IngestError
    ├── IntakeError (InvalidInputError)          a body or topic record is invalid
    │   └── IntakeTooLargeError (TooLargeError)  over an event or batch size limit
    ├── AppendRejectedError (ConflictError)      the whole request is refused, nothing written
    │   ├── SeqConflictError                     `expected_seq` no longer matches the session
    │   ├── BranchPendingError                   a branch's `session.branched` is not logged yet
    │   ├── RoomConflictError                    room full, stale fencing token, last owner …
    │   ├── RoomForbiddenError (ForbiddenError)  not a participant, a viewer, not an owner
    │   └── ScopeLockedError (LockedError)       another participant's live lease covers it
    └── AppendContentionError (TransientError)   other writers kept winning the race: retry

The room refusals stay `AppendRejectedError`s (the committer and the topic consumer treat
them like any refused request) and name a more specific kind, which the edge matches first.
No status codes here: the HTTP edge maps the kinds (servicekit's problem handlers); the
topic consumer dead-letters intake errors and refused appends with their detail.
"""

from __future__ import annotations

from typing import Any

from lifeline_common.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LifelineError,
    LockedError,
    TooLargeError,
    TransientError,
)


class IngestError(LifelineError):
    """Base of ingest's errors."""


class IntakeError(IngestError, InvalidInputError):
    """Bad input: `errors` name the failing fields (`[{"field", "msg"}]`)."""

    title = "Invalid events"


class IntakeTooLargeError(IntakeError, TooLargeError):
    """An event, a record or a batch is over its size limit."""

    title = "Payload too large"


class AppendRejectedError(IngestError, ConflictError):
    """The whole request is refused and nothing of it is written."""

    def __init__(self, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.title, self.detail, self.extra = title, detail, extra


class SeqConflictError(AppendRejectedError):
    """The request's `expected_seq` is not the session's last seq."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__("Session moved on",
                         f"expected_seq is {expected} but the session is at seq {current}",
                         current_seq=current, expected_seq=expected)


class BranchPendingError(AppendRejectedError):
    """The session is a branch being created: its rows are written, its `session.branched`
    (which must come first) not yet. Retrying shortly succeeds."""

    def __init__(self, branch: str, from_seq: int) -> None:
        super().__init__("Branch being created, retry",
                         f"session {branch!r} is a branch whose first event (session.branched, seq "
                         f"{from_seq + 1}) is not logged yet; retry shortly. If this persists, the "
                         "creation was interrupted: repeating its POST /v1/sessions/{id}/branches "
                         "finishes it", session_id=branch, from_seq=from_seq)


class RoomConflictError(AppendRejectedError):
    """A room rule refuses the request as the room stands (full, stale token, last owner)."""


class RoomForbiddenError(AppendRejectedError, ForbiddenError):
    """The writer is not in the session's room, or its role does not allow the request."""


class ScopeLockedError(AppendRejectedError, LockedError):
    """A scope the request touches is covered by another participant's live lease."""


class AppendContentionError(IngestError, TransientError):
    """Other ingest processes kept winning the race for these sessions; retry shortly."""
