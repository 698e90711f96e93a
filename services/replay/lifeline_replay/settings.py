"""replay's settings (LIFELINE_ prefix; see README)."""

from __future__ import annotations

from pydantic import Field

from lifeline_bus import CONSUMER_BATCH
from lifeline_servicekit import ServiceSettings


class ReplaySettings(ServiceSettings):
    """Where replay reads the log from, how often it snapshots, and its waiting limits."""

    port: int = 8002
    snapshot_every: int = Field(100, ge=0, description="snapshot (and trim the hot stream) every N events; "
                                "0 takes none (hot streams then grow with their sessions)")
    snapshot_keep: int = Field(20, ge=0, description="snapshots kept per session in PostgreSQL; 0 keeps all")
    hot_ttl_s: int = Field(7 * 24 * 3600, ge=0, description="idle sessions leave Redis after this; 0 = never")
    stale_after_events: int = Field(0, ge=-1, description="a replay-mode state further behind the log "
                                    "than this is served stale (with the lag); -1 skips the check")
    state_wait_max_s: float = Field(5.0, gt=0, le=60, description="longest ?min_seq= wait before 504")
    redis_timeout_s: float = Field(0.5, gt=0, description="a Redis command slower than this counts as down")
    redis_retry_s: float = Field(0.5, gt=0, description="after a Redis failure, skip Redis this long")
    ingest_timeout_s: float = Field(2.0, gt=0)
    memory_timeout_s: float = Field(0.3, gt=0)
    projection_max_records: int = Field(CONSUMER_BATCH, ge=1)
    projection_cache_sessions: int = Field(10_000, ge=0)
    projection_sync_commit: bool = Field(False, description="wait for the WAL flush on each projected batch")
    ws_max_connections: int = Field(1000, ge=1, description="WebSocket connections per process")
    ws_block_ms: int = Field(5000, ge=10, description="longest single blocking read of a hot stream")
    ws_log_poll_s: float = Field(0.25, gt=0, description="live polling of ingest's log while Redis is down")
    ws_send_timeout_s: float = Field(10.0, gt=0, description="a client slower than this is disconnected")
    context_window_tokens_openai: int = Field(128_000, ge=1, description="OpenAI's context window: "
                                              "a larger ?budget_tokens= is cut down to it")
    context_window_tokens_anthropic: int = Field(100_000, ge=1, description="Anthropic's context window")
    context_window_tokens_gemini: int = Field(1_000_000, ge=1, description="Gemini's context window")

    def context_window_tokens(self, provider: str) -> int:
        """The provider's context window cap, in tokens."""
        return int(getattr(self, f"context_window_tokens_{provider}"))
