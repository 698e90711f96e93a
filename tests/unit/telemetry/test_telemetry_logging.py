"""Log lines as operators read them: one JSON object per line, whatever the values.

`configure_logging` writes structlog's lines as bytes rendered by orjson and stamps them
from a cached second (logging.py); these tests read what reaches stdout.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
import structlog

from lifeline_telemetry import configure_logging, configure_tracing, tracer

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def stdout(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.BytesIO]:
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, write_through=True))
    configure_logging("svc-test")
    yield raw
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(raw: io.BytesIO) -> list[dict]:
    return [json.loads(line) for line in raw.getvalue().splitlines()]  # json: lone surrogates too


class Custom:
    def __structlog__(self) -> str:
        return "custom-form"


def test_a_line_is_one_json_object_with_level_service_time_and_bound_context(stdout: io.BytesIO) -> None:
    structlog.contextvars.bind_contextvars(session_id="s-9")
    try:
        before = datetime.now(UTC)
        structlog.get_logger("t").info("events.appended", events=3, last_seq=12)
        after = datetime.now(UTC)
    finally:
        structlog.contextvars.clear_contextvars()
    (line,) = lines(stdout)
    assert {k: line[k] for k in ("event", "level", "service", "session_id", "events", "last_seq")} == {
        "event": "events.appended", "level": "info", "service": "svc-test", "session_id": "s-9",
        "events": 3, "last_seq": 12}
    assert STAMP.match(line["timestamp"]), line["timestamp"]
    stamped = datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before.replace(microsecond=0) <= stamped <= after


def test_values_orjson_cannot_write_never_break_a_line(stdout: io.BytesIO) -> None:
    log = structlog.get_logger("t")
    log.info("odd", ids={UUID(int=1)}, at=datetime(2026, 1, 2, tzinfo=UTC), obj=Custom(),
             keyed={1: "one"}, exc=ValueError("boom"))
    log.info("huge", big=2**70, obj=Custom())  # beyond orjson: the standard library writes it
    log.info("lone", text="a\ud800b")  # a lone surrogate: orjson refuses, json escapes it
    log.info("tupled", keyed={(1, 2): "pair"})  # neither writes a tuple key: the repr
    log.warning("plain", n=1)
    odd, huge, lone, tupled, plain = lines(stdout)
    assert lone["text"] == "a\ud800b"
    assert tupled["event"] == "tupled" and "(1, 2): 'pair'" in tupled["unrenderable"]
    assert odd["ids"] == repr({UUID(int=1)})
    assert odd["obj"] == "custom-form"
    assert odd["exc"] == repr(ValueError("boom"))
    assert odd["at"] == "2026-01-02T00:00:00+00:00"
    assert odd["keyed"] == {"1": "one"}
    assert (huge["big"], huge["obj"]) == (2**70, "custom-form")
    assert (plain["event"], plain["level"], plain["n"]) == ("plain", "warning", 1)


def test_a_line_inside_a_span_carries_its_ids_and_stdlib_lines_are_json_too(stdout: io.BytesIO) -> None:
    configure_tracing("svc-test")
    with tracer("t").start_as_current_span("work") as span:
        structlog.get_logger("t").info("inside")
        logging.getLogger("third.party").warning("from the standard library %s", "logging")
    inside, foreign = lines(stdout)
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert foreign["event"] == "from the standard library logging"
    assert (foreign["level"], foreign["service"], foreign["trace_id"]) == (
        "warning", "svc-test", inside["trace_id"])
    assert STAMP.match(foreign["timestamp"])
