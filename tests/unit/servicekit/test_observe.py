"""The request latency histogram: one observation per request, labelled by route template
(the middleware keeps each matched route's labelled child instead of asking for it each time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from lifeline_servicekit import ServiceSettings, create_app

SERVICE = "observe-test"


@asynccontextmanager
async def _nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


def _count(method: str, route: str, status: int) -> float:
    value = REGISTRY.get_sample_value("lifeline_http_request_duration_seconds_count", {
        "service": SERVICE, "method": method, "route": route, "status": str(status)})
    return value or 0.0


def test_each_request_is_observed_under_its_route_template_and_status() -> None:
    router = APIRouter()

    @router.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    app = create_app(service=SERVICE, settings=ServiceSettings(), lifespan=_nothing, routers=[router],
                     readiness=lambda _: [])
    before = (_count("GET", "/v1/things/{thing_id}", 200), _count("GET", "/nowhere/1", 404),
              _count("GET", "/nowhere/2", 404), _count("GET", "/health", 200))
    with TestClient(app) as client:
        for thing_id in ("a", "b", "c"):
            assert client.get(f"/v1/things/{thing_id}").status_code == 200
        assert client.get("/nowhere/1").status_code == 404
        assert client.get("/nowhere/2").status_code == 404
        assert client.get("/health").status_code == 200
        assert client.get("/health").status_code == 200
    after = (_count("GET", "/v1/things/{thing_id}", 200), _count("GET", "/nowhere/1", 404),
             _count("GET", "/nowhere/2", 404), _count("GET", "/health", 200))
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1, 1, 2]
