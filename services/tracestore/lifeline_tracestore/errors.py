"""trace-store's errors, rooted at `lifeline_common.errors` (the tree is drawn there).

    TraceStoreError
    └── TraceNotFoundError (NotFoundError)   no such trace for the caller's tenant

`PartitionsMissingError` (a TransientError: the day's partition is not there yet, so the
batch is retried) is raised by the projector. asyncpg's errors are mapped by
`lifeline_store.wrap_errors` around every query; ingest's by its client.
"""

from __future__ import annotations

from lifeline_common.errors import LifelineError, NotFoundError


class TraceStoreError(LifelineError):
    """Base of trace-store's errors."""


class TraceNotFoundError(TraceStoreError, NotFoundError):
    """No trace with that id (or OTel trace id) for this tenant."""

    title = "Trace not found"
