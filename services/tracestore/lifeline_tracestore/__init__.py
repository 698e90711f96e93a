"""The trace store (port 8006): every event on the bus as an `EventTrace`, with replay,
retention by day partitions, and lookup by OpenTelemetry trace id."""
