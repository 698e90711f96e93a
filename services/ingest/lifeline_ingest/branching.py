"""What a branch is (pure): its id, and how a parent's event reads inside it.

A branch continues a parent session's history up to `from_seq` by reference: its own
rows start at `from_seq + 1` with `session.branched`, and reading its log serves the
parent's events at or below `from_seq` re-scoped to the branch. Re-scoping gives each
inherited event the branch's `session_id` and an `event_id` derived from the branch and
the parent's id (uuid5), so a store keyed by event id holds parent and branch apart,
and the same event always reads with the same id.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson

from lifeline_common.errors import ConflictError, InvalidInputError, NotFoundError
from lifeline_events import Event, Room, SessionState, apply
from lifeline_ingest.errors import IngestError

_NAMESPACE = uuid.UUID("6f1c1f0e-6c1a-5b7e-9d1e-1b2a3c4d5e6f")
_SCOPE_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


class BranchError(IngestError):
    """A branch cannot be created; nothing was written.

        BranchError
        ├── BranchIdError (InvalidInputError)       the id, given or derived, is unusable
        ├── BranchBeyondLogError (InvalidInputError) from_seq is past the parent's last seq
        ├── ParentNotFoundError (NotFoundError)      the tenant has no such parent session
        └── BranchExistsError (ConflictError)        a session with the branch's id exists
    """

    title = "Branch refused"


class BranchIdError(BranchError, InvalidInputError):
    title = "Invalid branch id"


class BranchBeyondLogError(BranchError, InvalidInputError):
    title = "from_seq beyond the parent's log"

    def __init__(self, parent: str, from_seq: int, last_seq: int) -> None:
        super().__init__(f"from_seq is {from_seq} but {parent!r} is at seq {last_seq}",
                         [{"field": "from_seq", "msg": f"at most {last_seq}, the parent's last seq"}])


class ParentNotFoundError(BranchError, NotFoundError):
    title = "Session not found"

    def __init__(self, parent: str) -> None:
        super().__init__(f"no session {parent!r} for this tenant")


class BranchExistsError(BranchError, ConflictError):
    title = "Session exists"

    def __init__(self, branch: str) -> None:
        super().__init__(f"session {branch!r} already exists; name the branch differently "
                         "or give another session_id")
        self.extra = {"session_id": branch}


@dataclass(frozen=True)
class BranchLink:
    """One edge of a lineage: `session_id` continues `parent_session_id` up to `from_seq`."""

    session_id: str
    parent_session_id: str
    from_seq: int
    name: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {"session_id": self.session_id, "parent_session_id": self.parent_session_id,
                "from_seq": self.from_seq, "name": self.name, "created_at": self.created_at.isoformat()}


def branch_id(parent: str, name: str, given: str | None) -> str:
    """The branch's session id: `given`, else `<parent>.<name>`; BranchIdError if unusable."""
    candidate = given if given is not None else f"{parent}.{name}"
    if not _SCOPE_ID.match(candidate):
        what = "session_id" if given is not None else f"the derived id {candidate!r} (<parent>.<name>)"
        raise BranchIdError(f"{what} must be 1-128 characters of A-Z a-z 0-9 . _ : @ -; "
                            "name the branch so, or give a session_id",
                            [{"field": "session_id" if given is not None else "name",
                              "msg": "not a valid session id"}])
    if candidate == parent:
        raise BranchIdError("a branch needs an id of its own, not its parent's",
                            [{"field": "session_id", "msg": "is the parent's id"}])
    return candidate


def inherited_event_id(branch: str, source_event_id: str | uuid.UUID) -> uuid.UUID:
    """The id a parent's event has inside `branch` (deterministic, distinct per branch)."""
    return uuid.uuid5(_NAMESPACE, f"{branch}/{source_event_id}")


def branched_event_id(tenant: str, branch: str) -> uuid.UUID:
    """The id of a branch's `session.branched`, so a retried creation appends it once."""
    return uuid.uuid5(_NAMESPACE, f"{tenant}/{branch}/session.branched")


def rescope(envelope: str, branch: str) -> str:
    """A parent's stored envelope as the branch serves it (session and event id replaced)."""
    doc = orjson.loads(envelope)
    doc["session_id"] = branch
    doc["event_id"] = str(inherited_event_id(branch, doc["event_id"]))
    return orjson.dumps(doc).decode()


def inherited_room(collaboration_events: list[str]) -> Room | None:
    """The room the branch starts with: the fold of the parent's collaboration events up to
    `from_seq` (envelopes in seq order), exactly what the branch's own fold will show."""
    room: Room | None = None
    for body in collaboration_events:
        room = apply(SessionState(room=room), Event.from_json(body)).room
    return room


def nominal_writer(room: Room | None) -> str | None:
    """Who `session.branched` is appended as, for the room's write check: an owner of the
    inherited room (ingest writes the event; it carries no writer), else nobody."""
    if room is None:
        return None
    writers = sorted(pid for pid, p in room.participants.items() if p.role != "viewer")
    owners = [pid for pid in writers if room.participants[pid].role == "owner"]
    return next(iter(owners or writers), None)
