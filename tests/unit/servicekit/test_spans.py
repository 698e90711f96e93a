"""`CurrentSpan` is `start_as_current_span` without its generator context managers: same span,
same current context, same handling of an exception leaving the block (real OTel SDK)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lifeline_telemetry import CurrentSpan, context_from_traceparent

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
Opener = Callable[..., AbstractContextManager[trace.Span]]


def _tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def _sdk(tracer: trace.Tracer) -> Opener:
    return tracer.start_as_current_span


def _ours(tracer: trace.Tracer) -> Opener:
    return lambda name, **kw: CurrentSpan(tracer, name, **kw)


def _shape(span: ReadableSpan) -> dict[str, Any]:
    """What a span says, without its random ids and clock."""
    return {"name": span.name, "kind": span.kind, "attributes": dict(span.attributes or {}),
            "status": (span.status.status_code, span.status.description),
            "parent": span.parent.span_id if span.parent else None,
            "trace": span.context.trace_id, "ended": span.end_time is not None,
            "events": [(e.name, {k: v for k, v in (e.attributes or {}).items()
                                 if k != "exception.stacktrace"}) for e in span.events]}


def _record(make: Callable[[trace.Tracer], Opener],
            body: Callable[[trace.Span], None]) -> list[dict[str, Any]]:
    tracer, exporter = _tracer()
    opener = make(tracer)
    with opener("outer", context=context_from_traceparent(PARENT), kind=trace.SpanKind.SERVER) as outer:
        assert trace.get_current_span() is outer
        try:
            with opener("inner", attributes={"lifeline.events": 2}) as inner:
                assert trace.get_current_span() is inner
                inner.set_attribute("lifeline.session_id", "s-1")
                body(inner)
        except (ValueError, asyncio.CancelledError):
            pass
        assert trace.get_current_span() is outer  # the outer span is current again
        outer.set_attribute("http.status_code", 200)
    assert trace.get_current_span() is trace.INVALID_SPAN
    spans = exporter.get_finished_spans()
    shapes = [_shape(s) for s in spans]
    inner_span, outer_span = spans
    assert inner_span.parent is not None and inner_span.parent.span_id == outer_span.context.span_id
    for shape in shapes:  # ids are random: compare the inner one's parent by role
        shape["parent"] = "outer" if shape["parent"] == outer_span.context.span_id else shape["parent"]
    return shapes


def _quiet(span: trace.Span) -> None:
    pass


def _fails(span: trace.Span) -> None:
    raise ValueError("no such session")


def _cancelled(span: trace.Span) -> None:
    raise asyncio.CancelledError  # a BaseException: neither recorded nor an error


@pytest.mark.parametrize("body", [_quiet, _fails, _cancelled], ids=["ok", "exception", "cancelled"])
def test_current_span_records_what_start_as_current_span_records(body: Callable[[trace.Span], None]) -> None:
    assert _record(_ours, body) == _record(_sdk, body)


def test_an_exception_is_recorded_and_marks_the_span_failed() -> None:
    """Pinned on its own, so the comparison above cannot pass by both recording nothing."""
    inner = _record(_ours, _fails)[0]
    assert inner["status"] == (trace.StatusCode.ERROR, "ValueError: no such session")
    assert inner["events"][0][0] == "exception"
    assert inner["events"][0][1]["exception.message"] == "no such session"
    assert inner["attributes"] == {"lifeline.events": 2, "lifeline.session_id": "s-1"}
