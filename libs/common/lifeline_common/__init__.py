"""Small pieces every Lifeline library and service shares (the error roots and kinds)."""

from lifeline_common.errors import (
    ConflictError,
    InvalidInputError,
    LifelineError,
    NotFoundError,
    TooLargeError,
    TransientError,
)

__all__ = [
    "ConflictError",
    "InvalidInputError",
    "LifelineError",
    "NotFoundError",
    "TooLargeError",
    "TransientError",
]
