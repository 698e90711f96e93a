"""Small pieces every Lifeline library and service shares (the error roots and kinds)."""

from lifeline_common.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LifelineError,
    LockedError,
    NotFoundError,
    TooLargeError,
    TransientError,
)

__all__ = [
    "ConflictError",
    "ForbiddenError",
    "InvalidInputError",
    "LifelineError",
    "LockedError",
    "NotFoundError",
    "TooLargeError",
    "TransientError",
]
