"""CONSUMER spans: one per distinct traceparent when spans are exported, none built when not.

The tracer provider is process-wide and installed once, so each case runs in its own
interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_EVENTS = """
from datetime import UTC, datetime
from lifeline_events import Event, parse_new_event
from lifeline_telemetry import root_traceparent

def event(seq, traceparent):
    new = parse_new_event({"event_type": "turn.recorded", "turn_id": seq, "traceparent": traceparent,
                           "payload": {"role": "user", "text": f"turn {seq}"}},
                          tenant_id="default", session_id="s-1")
    return Event.from_new(new, seq=seq, recorded_at=datetime(2026, 1, 5, tzinfo=UTC))

first, second = root_traceparent(), root_traceparent()
events = [event(1, first), event(2, first), event(3, second)]
"""


def _run(body: str) -> str:
    script = _EVENTS + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_exporter_gets_one_consumer_span_per_distinct_traceparent() -> None:
    out = _run("""
        from lifeline_telemetry import configure_tracing, spans_exported, tracing
        from lifeline_projection.spans import consumer_spans
        configure_tracing("replay", "memory")
        assert spans_exported()
        consumer_spans("lifeline.events.v1", "replay", "redis", events, 1, 2)
        spans = tracing.memory_exporter.get_finished_spans()
        print(sorted((s.kind.name, s.attributes["messaging.batch.message_count"]) for s in spans))
    """)
    assert out == "[('CONSUMER', 1), ('CONSUMER', 2)]"


def test_without_an_exporter_no_consumer_span_is_built() -> None:
    out = _run("""
        import lifeline_projection.spans as spans
        from lifeline_telemetry import configure_tracing, spans_exported

        def refuse(name):
            raise AssertionError("a span was built that no exporter would see")

        configure_tracing("replay", "none")
        spans.tracer = refuse
        spans.consumer_spans("lifeline.events.v1", "replay", "redis", events, 1, 2)
        print(spans_exported())
    """)
    assert out == "False"


def test_a_provider_installed_elsewhere_is_assumed_to_export() -> None:
    out = _run("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from lifeline_telemetry import configure_tracing, spans_exported
        trace.set_tracer_provider(TracerProvider())
        configure_tracing("replay", "none")  # keeps the provider it found
        print(spans_exported())
    """)
    assert out == "True"
