"""Consumer-side Prometheus metrics, labelled by topic and group."""

from prometheus_client import Counter, Histogram

CONSUMED = Counter("lifeline_bus_consumed_total", "Records handed to a handler.", ["topic", "group"])
DEAD_LETTERED = Counter("lifeline_bus_dead_lettered_total", "Records sent to the DLQ.",
                        ["topic", "group"])
REDELIVERED = Counter("lifeline_bus_redelivered_total",
                      "Records delivered more than once (reclaimed or replayed).", ["topic", "group"])
BATCH_SECONDS = Histogram(
    "lifeline_bus_batch_seconds", "Time to settle one consumed batch.", ["topic", "group"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUBLISHED = Counter("lifeline_bus_published_total", "Records published.", ["topic"])
