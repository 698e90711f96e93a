"""ingest's settings (LIFELINE_ prefix; see README)."""

from lifeline_servicekit import ServiceSettings


class IngestSettings(ServiceSettings):
    """Limits, batching and relay behaviour of the ingest service."""

    port: int = 8001
    max_event_bytes: int = 64 * 1024
    max_restore_event_bytes: int = 1024 * 1024
    max_batch_events: int = 1000
    max_batch_bytes: int = 5 * 1024 * 1024
    commit_max_events: int = 2000
    committers: int = 1
    relay_batch: int = 1000
    relay_poll_s: float = 0.2
    relay_enabled: bool = True
    turns_consumer_enabled: bool = True
    turns_max_records: int = 500
