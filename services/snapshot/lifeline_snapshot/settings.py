"""snapshot's settings (LIFELINE_ prefix; see README)."""

from lifeline_bus import CONSUMER_BATCH
from lifeline_servicekit import ServiceSettings


class SnapshotSettings(ServiceSettings):
    """Snapshot cadence, retention, export limits and the services snapshot talks to."""

    port: int = 8003
    snapshot_every: int = 100
    """Take a snapshot when a session's seq reaches a multiple of this (0 disables)."""
    snapshot_keep: int = 10
    """Newest snapshots kept per session (0 keeps all)."""
    snapshot_max_age_days: float = 30.0
    """Snapshots older than this are deleted by the periodic job (0 keeps them forever)."""
    maintenance_interval_s: float = 60.0
    """How often the periodic job announces leftovers and applies age retention."""
    export_max_mb: float = 50.0
    export_stream_after_events: int = 1000
    """Exports of longer sessions stream page by page instead of being built in memory."""
    export_page_events: int = 1000
    """Events read from ingest's log per request while exporting (ingest's maximum is 1000)."""
    consumer_max_records: int = CONSUMER_BATCH
    http_timeout_s: float = 10.0
