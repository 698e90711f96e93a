"""Projections: idempotent, gap-healing consumers of `lifeline.events.v1`."""

from lifeline_projection.ingest_client import IngestClient
from lifeline_projection.projection import ApplyFn, Projection, SessionKey

__all__ = ["ApplyFn", "IngestClient", "Projection", "SessionKey"]
