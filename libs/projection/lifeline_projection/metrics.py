"""The engine's counters, labelled by projection name (the same for every projection)."""

from __future__ import annotations

from prometheus_client import Counter

APPLIED = Counter("lifeline_projection_applied_total", "Events applied by a projection.", ["projection"])
SKIPPED = Counter("lifeline_projection_duplicates_total", "Redelivered events skipped.", ["projection"])
HEALED = Counter("lifeline_projection_healed_total", "Events fetched from ingest to fill gaps.",
                 ["projection"])
