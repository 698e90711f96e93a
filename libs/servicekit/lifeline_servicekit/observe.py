"""Per-request observability as a pure ASGI middleware.

Starlette's BaseHTTPMiddleware costs a task and a stream per request; at thousands of
small appends per second that overhead was a large share of the request, so this is
written against the ASGI interface directly. Every response carries `x-request-id`
and `x-trace-id`; the request runs inside a SERVER span continued from the caller's
`traceparent` (or `X-Trace-ID`), which is what log lines and bus messages then carry.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from opentelemetry import trace
from prometheus_client import Histogram

from lifeline_telemetry import context_from_traceparent

HTTP_LATENCY = Histogram(
    "lifeline_http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

Scope = dict[str, Any]


def _parent(headers: dict[bytes, bytes]) -> Any:
    parent = context_from_traceparent(headers.get(b"traceparent", b"").decode() or None)
    given = headers.get(b"x-trace-id", b"").decode()
    if parent is None and len(given) == 32:
        parent = context_from_traceparent(f"00-{given.lower()}-{'1' * 16}-01")
    return parent


class ObservabilityMiddleware:
    """Span, ids and latency histogram for every HTTP request."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service
        self.tracer = trace.get_tracer("lifeline.http")
        # `Histogram.labels` validates, stringifies and takes a lock on every call; the
        # (method, route, status) children are few, so each is looked up once
        self._latency: dict[tuple[str, str | None, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode() or uuid.uuid4().hex
        started = time.perf_counter()
        status = 500
        with self.tracer.start_as_current_span(
            f"{scope['method']} {scope['path']}", context=_parent(headers), kind=trace.SpanKind.SERVER
        ) as span:
            trace_id = f"{span.get_span_context().trace_id:032x}".encode()

            async def send_with_ids(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", []),
                                          (b"x-request-id", request_id.encode()), (b"x-trace-id", trace_id)]
                await send(message)

            structlog.contextvars.bind_contextvars(request_id=request_id)
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                structlog.contextvars.unbind_contextvars("request_id", "session_id")
                span.set_attribute("http.status_code", status)
                self._histogram(scope, status).observe(time.perf_counter() - started)

    def _histogram(self, scope: Scope, status: int) -> Any:
        """The latency child for this request; only matched routes are kept (their number is
        bounded, unmatched paths are not)."""
        matched = getattr(scope.get("route"), "path", None)
        key = (scope["method"], matched, status)
        child = self._latency.get(key) if matched is not None else None
        if child is None:
            child = HTTP_LATENCY.labels(self.service, scope["method"], matched or scope["path"], str(status))
            if matched is not None:
                self._latency[key] = child
        return child
