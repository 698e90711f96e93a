"""The roots of Lifeline's error tree.

    LifelineError
    ├── TransientError            retry later: the same input may well succeed
    │   ├── StoreUnavailableError     (lifeline_store)
    │   └── BusUnavailableError       (lifeline_bus)
    ├── StoreError                    (lifeline_store)
    │   └── StoreConflictError
    └── BusError                      (lifeline_bus)

Drivers' exceptions (asyncpg, redis, aiokafka) are re-raised as one of these at the
adapter boundary, so callers decide on retry by class, never by a driver's type.
"""


class LifelineError(Exception):
    """Base of every error Lifeline raises on purpose."""


class TransientError(LifelineError):
    """A dependency is unavailable for now; retrying the same work may succeed."""
