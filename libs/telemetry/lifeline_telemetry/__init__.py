"""Logs, traces and metrics set up the same way in every Lifeline process."""

from lifeline_telemetry.logging import configure_logging, get_logger
from lifeline_telemetry.tracing import (
    configure_tracing,
    context_from_traceparent,
    current_trace_ids,
    current_traceparent,
    new_traceparent,
    root_traceparent,
    spans_exported,
    tracer,
)

__all__ = [
    "configure_logging",
    "configure_tracing",
    "context_from_traceparent",
    "current_trace_ids",
    "current_traceparent",
    "get_logger",
    "new_traceparent",
    "root_traceparent",
    "spans_exported",
    "tracer",
]
