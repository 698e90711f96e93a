"""memory's errors, rooted at `lifeline_common.errors` (the tree is drawn there).

    MemoryServiceError
    ├── PersonNotFoundError (NotFoundError)         no profile for this person in this tenant
    ├── SessionNotFoundError (NotFoundError)        neither memory nor ingest knows the session
    ├── PersonForgottenError                        the person was forgotten (the edge answers 410)
    ├── SessionOfAnotherPersonError (ConflictError) consolidate named another person's session
    └── VersionNotKeptError (NotFoundError)         ?version= beyond what is kept

No status codes here: the API layer maps kinds (servicekit) and "forgotten" (its own).
"""

from __future__ import annotations

from datetime import datetime

from lifeline_common.errors import ConflictError, LifelineError, NotFoundError


class MemoryServiceError(LifelineError):
    """Base of memory's errors."""


class PersonNotFoundError(MemoryServiceError, NotFoundError):
    title = "Person not found"


class SessionNotFoundError(MemoryServiceError, NotFoundError):
    title = "Session not found"


class VersionNotKeptError(MemoryServiceError, NotFoundError):
    title = "Version not found"


class PersonForgottenError(MemoryServiceError):
    """Memory erased this person's derived data; only a new session can bring a profile back."""

    title = "Person forgotten"

    def __init__(self, person_id: str, forgotten_at: datetime) -> None:
        super().__init__(f"person {person_id!r} was forgotten at {forgotten_at.isoformat()}")
        self.forgotten_at = forgotten_at


class SessionOfAnotherPersonError(MemoryServiceError, ConflictError):
    title = "Session belongs to another person"

    def __init__(self, session_id: str, session_person: str | None) -> None:
        super().__init__(f"session {session_id!r} belongs to person {session_person!r}")
        self.extra = {"session_person": session_person}
