"""CONSUMER spans for handled events, so one W3C trace runs through every consumer.

One span per distinct `traceparent` in a batch (not per event: a batch of 500 events
from one request is one hop), parented on the message's context and covering the
batch's handling. None at all when no exporter is configured (`spans_exported`): such a
span is never current, so nothing else could see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace

from lifeline_events import Event
from lifeline_telemetry import context_from_traceparent, spans_exported, tracer


def consumer_spans(topic: str, group: str, bus_kind: str, events: Sequence[Event], start_ns: int,
                   end_ns: int) -> None:
    """Record one CONSUMER span per distinct traceparent among `events`."""
    if not spans_exported():
        return
    consumer = tracer("lifeline.consumer")
    by_parent: dict[str, list[Event]] = {}
    for event in events:
        if event.traceparent:
            by_parent.setdefault(event.traceparent, []).append(event)
    for traceparent, handled in by_parent.items():
        parent = context_from_traceparent(traceparent)
        if parent is None:
            continue
        span = consumer.start_span(f"{topic} process", context=parent, kind=trace.SpanKind.CONSUMER,
                                 start_time=start_ns, attributes={
                                     "messaging.system": bus_kind, "messaging.destination.name": topic,
                                     "messaging.consumer.group.name": group,
                                     "messaging.batch.message_count": len(handled),
                                     "lifeline.session_id": handled[0].session_id,
                                     "lifeline.event_ids": [str(e.event_id) for e in handled[:32]]})
        span.end(end_time=end_ns)
