"""replay's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from lifeline_events.redaction import KINDS

RECOVERY_SECONDS = Histogram(
    "lifeline_replay_recovery_seconds", "Time to recover a session's state, by ladder step.",
    ["mode"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
RECOVERIES = Counter("lifeline_replay_recoveries_total", "Recoveries served, by ladder step.", ["mode"])
WS_CONNECTIONS = Gauge("lifeline_replay_ws_connections", "Open WebSocket connections.")
WS_EVENTS = Counter("lifeline_replay_ws_events_sent_total", "Live events sent over WebSockets.")
PROJECTION_LAG = Gauge("lifeline_replay_projection_lag_seconds",
                       "Age (since ingest recorded it) of the last event replay applied.")
SNAPSHOTS = Counter("lifeline_replay_snapshots_total", "Snapshots replay took (every N events).")
REDACTIONS = Counter("lifeline_replay_redactions_total",
                     "Values redacted in context windows served with ?redact=true, by kind.", ["kind"])
for _kind in KINDS:
    REDACTIONS.labels(_kind)
