"""ingest's settings (LIFELINE_ prefix; see README)."""

from pydantic import Field

from lifeline_bus import CONSUMER_BATCH
from lifeline_events import ConflictStrategy
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
    relay_batch: int = CONSUMER_BATCH
    """Outbox rows read, published and marked per relay round (a consumer's batch)."""
    relay_poll_s: float = 0.2
    relay_enabled: bool = True
    turns_consumer_enabled: bool = True
    turns_max_records: int = CONSUMER_BATCH
    """Records per batch read from `lifeline.turns.v1`: each batch is one group commit."""
    max_participants: int = Field(50, ge=1, le=10_000)
    """Participants a session's room holds at most (a join beyond is a 409)."""
    lock_timeout_s: float = Field(300, gt=0, le=86_400)
    """A lease's default and longest time to live, in seconds."""
    conflict_strategy: ConflictStrategy = "reject"
    """How a batch with a stale `expected_seq` is treated when neither the request
    (`on_conflict`) nor the session (`PUT …/policy`) says (docs/architecture.md)."""
    conflict_window_events: int = Field(10_000, ge=1, le=1_000_000)
    """How far behind (events since `expected_seq`) a batch may be and still be merged."""
    conflict_provider_priority: list[str] = Field(default_factory=list)
    """`provider_priority`'s ranking, highest first, for sessions that set none."""
