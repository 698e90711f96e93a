"""trace-store's settings (LIFELINE_ prefix; see README)."""

from __future__ import annotations

from pydantic import Field

from lifeline_bus import CONSUMER_BATCH
from lifeline_servicekit import ServiceSettings


class TraceStoreSettings(ServiceSettings):
    """Retention, read-after-write, streaming and consumer behaviour of the trace store."""

    port: int = 8006
    trace_retention_days: int = Field(30, ge=0, le=36_500,
                                      description="traces older than this many days are removed")
    trace_cleanup_interval_s: float = Field(3600.0, gt=0, description="how often retention runs")
    trace_metrics_interval_s: float = Field(15.0, gt=0, description="how often storage gauges refresh")
    trace_read_wait_ms: int = Field(5000, ge=0, le=60_000,
                                    description="longest wait of a query with ?min_seq=")
    trace_stream_max_gap_s: float = Field(5.0, ge=0, description="cap on one paced gap of a stream")
    trace_stream_max_events: int = Field(10_000, ge=1)
    trace_consumer_max_records: int = Field(CONSUMER_BATCH, ge=1, le=10_000)
    trace_redaction: bool = Field(True, description="redact secrets and personal data before storing "
                                  "(snapshot export's placeholders); false stores what arrives")
    trace_context_every: int = Field(16, ge=1, le=1_000_000,
                                     description="a log row stores its context when its seq is a multiple of "
                                     "this (and on day changes, and when the row before it is not stored); "
                                     "the others are rebuilt on "
                                     "read. 1 = every row")
    # the session explorer (/ui/): where the browser finds the other services and the tools
    governance_url: str = "http://127.0.0.1:8005"
    snapshot_url: str = "http://127.0.0.1:8003"
    explorer_memory_url: str = Field("http://127.0.0.1:8004",
                                     description="memory for the explorer when LIFELINE_MEMORY_URL is empty")
    jaeger_trace_url: str = Field("http://127.0.0.1:16686/trace/{trace_id}",
                                  description="Jaeger link pattern; {trace_id} is the OTel trace id")
    grafana_url: str = "http://127.0.0.1:3000"
    explorer_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON {service: URL} the browser should use instead of the peer URLs above, "
                    "when those are internal names (containers, a cluster) the browser cannot reach")
