"""The app factory: a service is its routes, its lifespan and its readiness checks.

Every service gets `/health` (alive), `/ready` (the dependencies it cannot work
without answer; degraded ones are reported without failing), `/metrics`, problem+json
errors, request and trace ids on every response, and a server span per request whose
context is what the handlers' log lines and bus messages carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette_compress import CompressMiddleware, add_compress_type

from lifeline_servicekit.audit import AuditMiddleware
from lifeline_servicekit.audit import router as audit_router
from lifeline_servicekit.cors import LeanCORSMiddleware
from lifeline_servicekit.nul import guard_bodies
from lifeline_servicekit.observe import ObservabilityMiddleware
from lifeline_servicekit.openapi import document_problems
from lifeline_servicekit.persons import SessionPerson, any_person_scoped, person_guard
from lifeline_servicekit.problems import install_problem_handlers
from lifeline_servicekit.ratelimit import RateLimitMiddleware
from lifeline_servicekit.settings import ServiceSettings
from lifeline_servicekit.tenancy import TenancyMiddleware
from lifeline_telemetry import configure_logging, configure_tracing


@dataclass(frozen=True)
class ReadinessCheck:
    """One dependency: `probe` returns (ok, detail); a non-critical failure only degrades."""

    name: str
    probe: Callable[[], Awaitable[tuple[bool, str]]]
    critical: bool = True


# problem documents and msgpack exports compress as well as JSON does
for _media_type in ("application/problem+json", "application/msgpack", "application/x-ndjson"):
    add_compress_type(_media_type)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _run_check(check: ReadinessCheck) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check.probe(), timeout=2.0)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def create_app(
    *,
    service: str,
    settings: ServiceSettings,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]],
    version: str = "0.1.0",
    session_person: SessionPerson | None = None,
) -> FastAPI:
    """Build the service's FastAPI app; `lifespan` starts and drains its workers.

    `session_person` tells the person guard whose a `{session_id}` is (persons.py)."""
    configure_logging(service, settings.log_level)
    configure_tracing(service, settings.otel_exporter)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            yield

    # FastAPI's own telemetry would open a second SERVER span per request (and cost about
    # 0.3 ms): ObservabilityMiddleware already traces, counts and ids every request.
    app = FastAPI(title=f"Lifeline {service}", version=version, lifespan=_lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False,
                             "operation_spans": False})
    app.state.settings = settings
    app.state.service = service
    install_problem_handlers(app)
    app.add_middleware(AuditMiddleware, service=service)  # innermost: records what was answered
    app.add_middleware(TenancyMiddleware)  # inside observability: its 403s are traced and counted
    app.add_middleware(RateLimitMiddleware, read_per_s=settings.rate_limit_read_per_s,
                       write_per_s=settings.rate_limit_write_per_s, burst_s=settings.rate_limit_burst_s)
    app.add_middleware(ObservabilityMiddleware, service=service)
    # Accept-Encoding: zstd, br or gzip from compress_min_bytes on; server-sent events are
    # flushed per message, WebSockets pass through untouched
    app.add_middleware(CompressMiddleware, minimum_size=settings.compress_min_bytes)
    if settings.cors_origins:  # outermost: preflights and error answers carry the headers too
        app.add_middleware(LeanCORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key", "If-Match",
                                          "If-None-Match", "Idempotency-Key"],
                           expose_headers=["ETag", "X-Request-ID"], max_age=600)

    # the service's routes before the ops routes: a request is matched against each route
    # in turn (twice, through an included router), and the service's are the busy ones
    # person-scoped keys (persons.py); without any, the guard would pass every request
    scoped = any_person_scoped(settings.api_keys)
    persons = [Depends(person_guard(session_person))] if scoped else []
    for router in (*routers, audit_router):
        guard_bodies(router.routes)  # a NUL in a declared body is a 422 (nul.py)
        app.include_router(router, dependencies=persons)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": service, "instance": settings.instance_id}

    @app.get("/ready", tags=["ops"])
    async def ready() -> JSONResponse:
        if getattr(app.state, "draining", False):  # SIGTERM: take no new work (serve.py)
            return JSONResponse({"service": service, "status": "draining", "checks": {}, "degraded": [],
                                 "detail": "shutting down: draining in-flight work"}, status_code=503)
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

    document_problems(app)
    return app
