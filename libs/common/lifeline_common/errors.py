"""The roots of Lifeline's error tree, and the tree itself.

Every error Lifeline raises on purpose derives from `LifelineError`. Besides its own
library or service base, an error names *what kind* of failure it is by deriving from
one of the kinds below; the HTTP edge (servicekit's problem handlers) maps kinds to
statuses in one table, so no error carries an HTTP status code:

    kind                  HTTP    topic consumer
    TransientError        503     retry (never dead-letter)
    InvalidInputError     422     dead-letter with the reason
    └── TooLargeError     413     dead-letter with the reason
    NotFoundError         404     —
    ForbiddenError        403     —
    ConflictError         409     —
    LockedError           423     —

An error may carry `title` (a short summary), `detail` (defaults to `str(error)`),
`errors` (a list naming the failing fields) and `extra` (more problem members); the edge
puts them into the problem document.

The whole tree (→ names an error's kind when it has a second base):

    LifelineError
    ├── TransientError ........................ kind: retry later (503)
    ├── InvalidInputError ..................... kind: bad input (422)
    │   └── TooLargeError ..................... kind: over a size limit (413)
    ├── NotFoundError ......................... kind: no such thing for this tenant (404)
    ├── ForbiddenError ........................ kind: allowed for others, not this caller (403)
    ├── ConflictError ......................... kind: the caller's view is stale (409)
    ├── LockedError ........................... kind: another holder's lease covers it (423)
    │
    ├── StoreError ............................ lifeline_store: a statement failed for good
    │   ├── StoreUnavailableError → TransientError
    │   ├── StoreConflictError → ConflictError
    │   └── CompressionError ................... lifeline_store.compression: a stored blob
    │       ├── UnknownAlgorithmError → InvalidInputError  no codec has that name
    │       └── CorruptBlobError → ConflictError           bytes that do not decompress
    ├── BusError .............................. lifeline_bus: the bus refused for good
    │   └── BusUnavailableError → TransientError
    ├── EventsError ........................... lifeline_events
    │   ├── EventValidationError → InvalidInputError   names each failing field
    │   ├── UpcastError                                 a version cannot be brought current
    │   └── SessionMismatchError                        fold given another session's event
    ├── PeerUnavailableError → TransientError . lifeline_clients: a peer did not answer
    ├── PeerRefusedError ...................... lifeline_clients: a peer's refusal, relayed
    │                                           with the peer's own status
    ├── IngestUnavailableError → TransientError lifeline_projection's healing client (until
    │                                           it gives way to lifeline_clients)
    ├── IngestError ........................... lifeline_ingest
    │   ├── IntakeError → InvalidInputError            a body or topic record is invalid
    │   │   └── IntakeTooLargeError → TooLargeError    over an event or batch limit
    │   ├── AppendRejectedError → ConflictError        nothing of the request is written
    │   │   ├── SeqConflictError                       expected_seq is stale
    │   │   ├── BranchPendingError                     a branch's session.branched is not logged yet
    │   │   ├── RoomConflictError                      room full, stale fencing token, …
    │   │   ├── RoomForbiddenError → ForbiddenError    not a participant, a viewer, not an owner
    │   │   └── ScopeLockedError → LockedError         another participant's live lease
    │   ├── AppendContentionError → TransientError     other writers kept winning: retry
    │   ├── BranchError                                a branch cannot be created (nothing written)
    │   │   ├── BranchIdError → InvalidInputError      not a usable session id
    │   │   ├── BranchBeyondLogError → InvalidInputError  from_seq past the parent's log
    │   │   ├── ParentNotFoundError → NotFoundError
    │   │   └── BranchExistsError → ConflictError      the branch's id is in use
    │   ├── ArchiveInvalidError → InvalidInputError    a WAL archive that fails its manifest
    │   └── RestoreConflictError → ConflictError       other events hold an archive's seqs
    ├── ReplayError ........................... lifeline_replay
    │   ├── SessionNotFoundError → NotFoundError
    │   ├── HotStoreUnavailableError → TransientError  Redis away: fall down the ladder
    │   ├── RecoveryUnavailableError → TransientError  no step of the ladder answered
    │   └── GapError → TransientError                  events after a cursor unreadable
    ├── SnapshotError ......................... lifeline_snapshot
    │   └── BundleError → InvalidInputError            an import bundle is invalid
    ├── TraceStoreError ....................... lifeline_tracestore
    │   └── TraceNotFoundError → NotFoundError
    ├── PartitionsMissingError → TransientError lifeline_tracestore's projector: the day's
    │                                           partition is not there yet
    ├── MemoryServiceError .................... lifeline_memory
    │   ├── PersonNotFoundError → NotFoundError
    │   ├── SessionNotFoundError → NotFoundError
    │   ├── VersionNotKeptError → NotFoundError
    │   ├── PersonForgottenError                       answered by memory's API itself
    │   ├── SessionOfAnotherPersonError → ConflictError
    │   └── NotConsolidatedYetError → TransientError
    └── GovernanceError ....................... lifeline_governance (its API maps each class)
        ├── NotFoundError                              governance's own, not the kind above
        ├── TransitionRefusedError
        │   ├── QuarantinedError
        │   ├── StateMismatchError
        │   ├── GuardFailedError
        │   └── PrimaryConflictError
        ├── PreconditionFailedError
        └── InvalidRequestError

Outside the tree on purpose: `ProblemError` (servicekit) and replay's WebSocket `Refused`
are the API layer's own answers (they carry a status or close code by design); the
tools' `CliError` and `ServerError` (with `ServerStartError`, `ServerNotControllableError`)
never leave their command-line processes; pydantic validators raise plain `ValueError`,
which pydantic requires, and so do two checks of configuration and invariants that are
programming faults, not requests: memory's `RuleConfigError` and governance's `FoldError`.

Drivers' exceptions (asyncpg, redis, aiokafka, httpx) are re-raised as one of these at
the adapter boundary, so callers decide on retry by class, never by a driver's type.
"""

from __future__ import annotations

from typing import Any


class LifelineError(Exception):
    """Base of every error Lifeline raises on purpose."""


class TransientError(LifelineError):
    """A dependency is unavailable for now; retrying the same work may succeed."""


class InvalidInputError(LifelineError):
    """The caller's input is invalid; the same input will always fail.

    `errors` names the failing fields (`[{"field": ..., "msg": ...}]`) when known.
    """

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors if errors is not None else [{"field": "", "msg": detail}]


class TooLargeError(InvalidInputError):
    """The input exceeds a size limit (an event, a batch, a bundle)."""


class NotFoundError(LifelineError):
    """What the request names does not exist (for the caller's tenant)."""


class ConflictError(LifelineError):
    """The request conflicts with the current state; the caller's view is stale."""


class ForbiddenError(LifelineError):
    """The caller is known but may not do this (a viewer's write, a non-owner's removal)."""


class LockedError(LifelineError):
    """What the request touches is held by someone else's live lease; retry after it ends."""
