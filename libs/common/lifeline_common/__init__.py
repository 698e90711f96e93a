"""Small pieces every Lifeline library and service shares (the error roots)."""

from lifeline_common.errors import LifelineError, TransientError

__all__ = ["LifelineError", "TransientError"]
