"""PostgreSQL access: an asyncpg pool, numbered migrations, wrapped driver errors."""

from lifeline_store.errors import StoreConflictError, StoreError, StoreUnavailableError, wrap_errors
from lifeline_store.migrations import apply_migrations
from lifeline_store.pool import create_pool, dsn_for_asyncpg

__all__ = [
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "apply_migrations",
    "create_pool",
    "dsn_for_asyncpg",
    "wrap_errors",
]
