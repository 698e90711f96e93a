"""OpenTelemetry set-up and W3C `traceparent` helpers.

The exporter is chosen by setting: `none` (spans still created, so ids propagate
into logs and onto the bus, but ids are all they hold: ids_only.py), `console`, `otlp`
(OTLP/HTTP to the standard `OTEL_EXPORTER_OTLP_ENDPOINT`), or `memory` for tests that
inspect spans.
"""

from __future__ import annotations

import functools
import secrets

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lifeline_telemetry.ids_only import IdsOnlyTracerProvider

_propagator = TraceContextTextMapPropagator()
memory_exporter: InMemorySpanExporter | None = None
# A provider this module did not install may export anything: assume its spans count.
_exported = True


def configure_tracing(service: str, exporter: str = "none") -> trace.TracerProvider:
    """Install a tracer provider for this process (once) and return it."""
    global memory_exporter, _exported
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider | IdsOnlyTracerProvider):
        return current
    _exported = exporter in ("console", "otlp", "memory")
    if not _exported:
        ids_only = IdsOnlyTracerProvider()
        trace.set_tracer_provider(ids_only)
        return ids_only
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "memory":
        memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory_exporter))
    trace.set_tracer_provider(provider)
    return provider


def spans_exported() -> bool:
    """Whether a finished span reaches an exporter.

    With the `none` exporter spans are still made, because their ids propagate into logs,
    events and bus headers; but a span nobody makes current (a consumer's record of a
    batch) or a producer span's links reach nothing at all. Building them was ~8 % of every
    consumer's CPU under single-event traffic (issue 10), so such work asks here first.
    """
    return _exported


@functools.cache
def tracer(name: str = "lifeline") -> trace.Tracer:
    """The tracer called `name`, built once: `trace.get_tracer` builds a new Tracer (and a
    deprecation-warning filter) on every call, ~5 µs on a path that runs per request or
    batch. One taken before `configure_tracing` delegates to the provider installed later."""
    return trace.get_tracer(name)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The OTel context a W3C `traceparent` names, or None when absent or malformed."""
    if not traceparent:
        return None
    ctx = _propagator.extract({"traceparent": traceparent})
    span_ctx = trace.get_current_span(ctx).get_span_context()
    return ctx if span_ctx.is_valid else None


def current_traceparent() -> str | None:
    """The `traceparent` of the current span, for the log row and bus headers."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def new_traceparent() -> str:
    """The current span's `traceparent`, else a fresh root one (sampled): every record
    that leaves a Lifeline process carries its own trace."""
    return current_traceparent() or root_traceparent()


def root_traceparent() -> str:
    """A fresh sampled root `traceparent`, unrelated to whatever span is current."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def current_trace_ids() -> tuple[str | None, str | None]:
    """Hex trace and span ids of the current span, for log lines."""
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return None, None
    return f"{span_ctx.trace_id:032x}", f"{span_ctx.span_id:016x}"
