"""snapshot's own metrics (the projection engine counts applied/skipped/healed events).

Operators alert on them (deploy/prometheus/alerts.yml): failing restores, imports or
reconciles, oversized exports and snapshot storage growth.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Gauge, Histogram

SNAPSHOTS = Counter("lifeline_snapshots_created_total", "Snapshots stored, by trigger.", ["trigger"])
RETAINED = Counter("lifeline_snapshots_retention_deleted_total", "Snapshots deleted by retention.", ["rule"])
OPERATIONS = Counter("lifeline_snapshot_operations_total",
                     "Restores, recaps, exports, imports and reconciles, by outcome (ok, error).",
                     ["operation", "outcome"])
EXPORT_BYTES = Histogram("lifeline_snapshot_export_bytes", "Size of built (not streamed) exports.",
                         buckets=(1e3, 1e4, 1e5, 1e6, 5e6, 1e7, 5e7, 1e8))
STORED = Gauge("lifeline_snapshot_stored", "Snapshots stored, every tenant (refreshed by maintenance).")
STORED_BYTES = Gauge("lifeline_snapshot_stored_bytes",
                     "Bytes of stored snapshot states, every tenant (refreshed by maintenance).")

P = ParamSpec("P")
R = TypeVar("R")


def counted(operation: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Count a route's calls by outcome; an error (any status from 400 up) counts as `error`."""
    def wrap(route: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(route)  # FastAPI reads the route's signature through __wrapped__
        async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = await route(*args, **kwargs)
            except Exception:
                OPERATIONS.labels(operation, "error").inc()
                raise
            OPERATIONS.labels(operation, "ok").inc()
            return result
        return inner
    return wrap
