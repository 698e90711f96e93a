"""The app factory: a service is its routes, its lifespan and its readiness checks.

Every service gets `/health` (alive), `/ready` (the dependencies it cannot work
without answer; degraded ones are reported without failing), `/metrics`, problem+json
errors, request and trace ids on every response, and a server span per request whose
context is what the handlers' log lines and bus messages carry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from lifeline_servicekit.problems import install_problem_handlers
from lifeline_servicekit.settings import ServiceSettings
from lifeline_telemetry import configure_logging, configure_tracing, context_from_traceparent

HTTP_LATENCY = Histogram(
    "lifeline_http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


@dataclass(frozen=True)
class ReadinessCheck:
    """One dependency: `probe` returns (ok, detail); a non-critical failure only degrades."""

    name: str
    probe: Callable[[], Awaitable[tuple[bool, str]]]
    critical: bool = True


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _run_check(check: ReadinessCheck) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check.probe(), timeout=2.0)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _add_observability_middleware(app: FastAPI, service: str) -> None:
    tracer = trace.get_tracer("lifeline.http")

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        parent = context_from_traceparent(request.headers.get("traceparent"))
        given = request.headers.get("x-trace-id", "")
        if parent is None and len(given) == 32:
            parent = context_from_traceparent(f"00-{given.lower()}-{'1' * 16}-01")
        route = request.url.path
        started = time.perf_counter()
        with tracer.start_as_current_span(
            f"{request.method} {route}", context=parent, kind=trace.SpanKind.SERVER
        ) as span:
            span_ctx = span.get_span_context()
            trace_id = f"{span_ctx.trace_id:032x}"
            structlog.contextvars.bind_contextvars(request_id=request_id)
            try:
                response = await call_next(request)
            finally:
                structlog.contextvars.unbind_contextvars("request_id", "session_id")
            span.set_attribute("http.status_code", response.status_code)
        matched = request.scope.get("route")
        template = getattr(matched, "path", route)
        HTTP_LATENCY.labels(service, request.method, template, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        response.headers["x-request-id"] = request_id
        response.headers["x-trace-id"] = trace_id
        return response


def create_app(
    *,
    service: str,
    settings: ServiceSettings,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]],
    version: str = "0.1.0",
) -> FastAPI:
    """Build the service's FastAPI app; `lifespan` starts and drains its workers."""
    configure_logging(service, settings.log_level)
    configure_tracing(service, settings.otel_exporter)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            yield

    app = FastAPI(title=f"Lifeline {service}", version=version, lifespan=_lifespan)
    app.state.settings = settings
    app.state.service = service
    install_problem_handlers(app)
    _add_observability_middleware(app, service)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": service, "instance": settings.instance_id}

    @app.get("/ready", tags=["ops"])
    async def ready() -> JSONResponse:
        checks = readiness(app)
        results = await asyncio.gather(*(_run_check(c) for c in checks))
        body: dict[str, Any] = {"service": service, "checks": {}, "degraded": []}
        ok = True
        for check, (passed, detail) in zip(checks, results, strict=True):
            body["checks"][check.name] = {"ok": passed, "detail": detail, "critical": check.critical}
            if not passed and check.critical:
                ok = False
            elif not passed:
                body["degraded"].append(check.name)
        body["status"] = ("degraded" if body["degraded"] else "ready") if ok else "unavailable"
        failing = [n for n, c in body["checks"].items() if not c["ok"] and c["critical"]]
        if failing:
            body["detail"] = "not ready: " + ", ".join(failing)
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app
