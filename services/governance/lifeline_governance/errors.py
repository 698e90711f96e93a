"""governance's error tree; the API layer maps each class to an HTTP status.

LifelineError (lifeline_common)
└── GovernanceError
    ├── NotFoundError                 unknown model, placement or decision
    ├── TransitionRefusedError        illegal transition (names the state)
    │   ├── QuarantinedError              QUARANTINED is terminal
    │   ├── StateMismatchError            expected_state ≠ current state
    │   ├── GuardFailedError              respect_guards and a guard fails
    │   └── PrimaryConflictError          a racing second PRIMARY (unique index)
    ├── PreconditionFailedError       If-Match names an older version
    └── InvalidRequestError           a value no rule can use (bad `at`, intent)
"""

from __future__ import annotations

from typing import Any

from lifeline_common.errors import LifelineError


class GovernanceError(LifelineError):
    """Base of every error governance raises on purpose; `extra` goes into the answer."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFoundError(GovernanceError):
    """The model, placement, intent or decision does not exist (for this tenant)."""


class TransitionRefusedError(GovernanceError):
    """The state machine does not allow this transition now."""


class QuarantinedError(TransitionRefusedError):
    """QUARANTINED is terminal: fix forward under a new model id."""


class StateMismatchError(TransitionRefusedError):
    """The caller expected another current state (optimistic concurrency on state)."""


class GuardFailedError(TransitionRefusedError):
    """`respect_guards` was asked for and a guard does not pass."""


class PrimaryConflictError(TransitionRefusedError):
    """Another PRIMARY appeared concurrently; the database refused the second one."""


class PreconditionFailedError(GovernanceError):
    """`If-Match` names a version that is no longer current."""


class InvalidRequestError(GovernanceError):
    """A value that is well-formed but unusable (a future `at`, a state change via PUT)."""
