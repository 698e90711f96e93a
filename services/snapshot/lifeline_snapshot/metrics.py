"""snapshot's own counters (the projection engine counts applied/skipped/healed events)."""

from __future__ import annotations

from prometheus_client import Counter

SNAPSHOTS = Counter("lifeline_snapshots_created_total", "Snapshots stored, by trigger.", ["trigger"])
RETAINED = Counter("lifeline_snapshots_retention_deleted_total", "Snapshots deleted by retention.", ["rule"])
