"""Spans of a process that exports none carry the ids the SDK would give (ids_only.py).

The oracle is the SDK's tracer with its default sampler: for a root span, a child of a
local span, and children of remote parents sampled or not (with a trace state), both
tracers must give the same trace id, flags and trace state, a fresh span id, and make
the span current inside the block only. The provider is used directly, not installed.
"""

from __future__ import annotations

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from lifeline_telemetry.ids_only import IdsOnlyTracer, IdsOnlyTracerProvider
from lifeline_telemetry.tracing import context_from_traceparent, current_traceparent

SDK = TracerProvider().get_tracer("oracle")
OURS = IdsOnlyTracerProvider().get_tracer("lifeline.http")
REMOTE = {
    "sampled": SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                           trace_state=TraceState([("vendor", "x")])),
    "not sampled": SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT)),
    "sampled, random id": SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(0x03)),
    "unknown flags": SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(0xF1)),
}


def _shape(tracer: trace.Tracer, parent: context.Context | None) -> tuple[object, ...]:
    with tracer.start_as_current_span("work", context=parent) as span:
        ctx = span.get_span_context()
        assert trace.get_current_span() is span
        assert ctx.is_valid and not ctx.is_remote
        current = current_traceparent()
    assert trace.get_current_span() is not span
    header_ok = current is not None and current.endswith(f"{ctx.span_id:016x}-{ctx.trace_flags:02x}")
    return ctx.trace_flags, ctx.trace_state, header_ok


def test_a_root_span_is_sampled_with_fresh_ids_as_the_sdk_makes_it() -> None:
    assert _shape(OURS, None) == _shape(SDK, None)
    with OURS.start_as_current_span("a") as a, OURS.start_as_current_span("b") as b:
        pass
    first, second = a.get_span_context(), b.get_span_context()
    assert first.trace_flags.sampled and first.trace_flags.random_trace_id
    assert first.trace_id == second.trace_id and first.span_id != second.span_id
    with OURS.start_as_current_span("c") as c:
        assert c.get_span_context().trace_id != first.trace_id  # a new root, a new trace


@pytest.mark.parametrize("name", sorted(REMOTE))
def test_a_child_of_a_remote_parent_keeps_its_trace_flags_and_state(name: str) -> None:
    parent = trace.set_span_in_context(NonRecordingSpan(REMOTE[name]))
    assert _shape(OURS, parent) == _shape(SDK, parent)
    with OURS.start_as_current_span("child", context=parent) as span:
        ctx = span.get_span_context()
    assert (ctx.trace_id, ctx.trace_flags, ctx.trace_state) == (
        REMOTE[name].trace_id, REMOTE[name].trace_flags & 0x03, REMOTE[name].trace_state)
    assert ctx.span_id != REMOTE[name].span_id


def test_a_traceparent_header_continues_its_trace() -> None:
    parent = context_from_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    with OURS.start_as_current_span("GET /x", context=parent, kind=trace.SpanKind.SERVER):
        header = current_traceparent()
    assert header is not None and header.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert header.endswith("-01") and "b7ad6b7169203331" not in header
    with SDK.start_as_current_span("GET /x", context=parent, kind=trace.SpanKind.SERVER):
        assert current_traceparent()[-3:] == header[-3:]  # type: ignore[index]


def test_spans_record_nothing_and_exceptions_pass_through() -> None:
    with pytest.raises(ValueError, match="boom"), OURS.start_as_current_span("failing") as span:
        span.set_attribute("k", "v")
        span.add_event("e")
        raise ValueError("boom")
    assert not span.is_recording()
    assert trace.get_current_span() is not span
    assert isinstance(OURS, IdsOnlyTracer)
    assert OURS.start_span("loose").get_span_context().trace_flags.sampled
