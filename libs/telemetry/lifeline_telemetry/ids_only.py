"""Spans that carry ids and nothing else, for a process that exports no span.

With the `none` exporter (the default of `make run`) every span is still made, because
its ids go into log lines, the log row's and the bus record's `traceparent` and the
`x-trace-id` header; but nothing ever reads its name, attributes, events or timing.
The SDK's span costs ~25 CPU µs to start and end on the project's machine (sampler,
attribute containers, locks, timestamps): an append request made two of them, 5–7 % of
ingest's CPU under single-event traffic (issue 10).

This tracer makes OpenTelemetry's own `NonRecordingSpan`, with the ids the SDK would
give: the parent's trace id (a fresh one for a root), a fresh span id, the parent's
trace state and its sampled and random-trace-id flags; a root is sampled, as the SDK's
default sampler (`ParentBased(ALWAYS_ON)`) decides, and flagged random, as its random id
generator does. A downstream service that does export sees the same `traceparent` as
before. Anything that configures an exporter gets the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, use_span
from opentelemetry.util._decorator import _agnosticcontextmanager

_IDS = RandomIdGenerator()
_INHERITED = TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID
_ROOT = TraceFlags(_INHERITED)


class IdsOnlyTracer(trace.Tracer):
    """`NonRecordingSpan`s with the SDK's ids (module docstring)."""

    def start_span(self, name: str, context: Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
                   links: Sequence[trace.Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True, set_status_on_exception: bool = True) -> trace.Span:
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            return NonRecordingSpan(SpanContext(parent.trace_id, _IDS.generate_span_id(), is_remote=False,
                                                trace_flags=TraceFlags(parent.trace_flags & _INHERITED),
                                                trace_state=parent.trace_state))
        return NonRecordingSpan(SpanContext(_IDS.generate_trace_id(), _IDS.generate_span_id(),
                                            is_remote=False, trace_flags=_ROOT))

    @_agnosticcontextmanager
    def start_as_current_span(self, name: str, context: Context | None = None,
                              kind: SpanKind = SpanKind.INTERNAL,
                              attributes: Mapping[str, Any] | None = None,
                              links: Sequence[trace.Link] | None = None, start_time: int | None = None,
                              record_exception: bool = True, set_status_on_exception: bool = True,
                              end_on_exit: bool = True) -> Iterator[trace.Span]:
        with use_span(self.start_span(name, context), end_on_exit=end_on_exit) as span:
            yield span


class IdsOnlyTracerProvider(trace.TracerProvider):
    """Hands out the one `IdsOnlyTracer` whatever the instrumentation's name."""

    def __init__(self) -> None:
        self._tracer = IdsOnlyTracer()

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes: Mapping[str, Any] | None = None,
                   ) -> trace.Tracer:
        return self._tracer
