"""trace-store's Prometheus metrics (dashboards: deploy/grafana/dashboards/traces.json).

Labelled series are created up front, so a panel shows 0 rather than nothing before
the first event of a kind.
"""

from prometheus_client import Counter, Gauge, Histogram

from lifeline_events.redaction import KINDS
from lifeline_tracestore.domain import SOURCE_EVENTS, SOURCE_LIFECYCLE

TRACES_STORED = Counter("lifeline_tracestore_traces_stored_total",
                        "Traces stored, by the topic they came from.", ["source"])
TRACES_REMOVED = Counter("lifeline_tracestore_traces_removed_total",
                         "Traces removed: whole partitions dropped, rows trimmed, or deleted over the API.",
                         ["reason"])
STORE_LATENCY = Histogram(
    "lifeline_tracestore_store_latency_seconds",
    "From ingest recording an event to its trace being committed.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
PARTITIONS = Gauge("lifeline_tracestore_partitions", "Day partitions of the trace table.")
OLDEST_DAY = Gauge("lifeline_tracestore_oldest_partition_timestamp_seconds",
                   "Start of the oldest day partition still kept (unix time).")
RETENTION_DAYS = Gauge("lifeline_tracestore_retention_days", "Configured retention (days).")
RETENTION_RUNS = Counter("lifeline_tracestore_retention_runs_total", "Retention runs by trigger and outcome.",
                         ["trigger", "outcome"])
RETENTION_SECONDS = Histogram("lifeline_tracestore_retention_seconds", "Duration of one retention run.",
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
REDACTIONS = Counter("lifeline_tracestore_redactions_total",
                     "Values redacted on the way into trace-store, by kind.", ["kind"])
REPLAYS = Counter("lifeline_tracestore_replays_total", "Replays served, by kind.", ["kind"])

for _source in (SOURCE_EVENTS, SOURCE_LIFECYCLE):
    TRACES_STORED.labels(_source)
for _reason in ("partition_dropped", "row_trimmed", "api_delete"):
    TRACES_REMOVED.labels(_reason)
for _trigger in ("scheduled", "api"):
    for _outcome in ("ok", "error"):
        RETENTION_RUNS.labels(_trigger, _outcome)
for _kind in ("trace", "session_stream"):
    REPLAYS.labels(_kind)
for _kind in KINDS:
    REDACTIONS.labels(_kind)
