"""Each service's OpenAPI documents the problem+json answers of every route (issue 11).

servicekit's `create_app` adds them once from the route itself (lifeline_servicekit.openapi);
this reads the documents, built without starting anything, so no route can go undocumented.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

SERVICES = ["ingest", "replay", "snapshot", "memory", "governance", "tracestore"]
OPS = {"/health", "/ready", "/metrics"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
WAITS = {"min_seq", "after_session"}


def _openapi(service: str) -> dict[str, Any]:
    return importlib.import_module(f"lifeline_{service}.app").build_app().openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]


def _expected(path: str, method: str, op: dict[str, Any]) -> set[str]:
    params = op.get("parameters", [])
    names = {p["name"] for p in params}
    body = "requestBody" in op
    expected = {"401", "403", "429", "503"}
    expected |= {"404"} if any(p["in"] == "path" for p in params) else set()
    expected |= {"409"} if method in ("post", "put", "patch", "delete") else set()
    expected |= {"413"} if body else set()
    expected |= {"422"} if params or body else set()
    expected |= {"504"} if names & WAITS else set()
    return expected


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_documents_its_problem_answers(service: str) -> None:
    """Every API route names 401/403/429/503, 404 with a path id, 409 on writes, 413 with a
    body, 422 with any input and 504 with a wait, each as problem+json with the Problem schema."""
    spec = _openapi(service)
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    missing, wrong = [], []
    for path, method, op in _operations(spec):
        if path in OPS:
            continue
        for status in sorted(_expected(path, method, op)):
            answer = op["responses"].get(status)
            if answer is None:
                missing.append(f"{method.upper()} {path} {status}")
            elif answer.get("content") != PROBLEM:
                wrong.append(f"{method.upper()} {path} {status}: {answer.get('content')}")
    assert missing == [] and wrong == []


@pytest.mark.parametrize("service", SERVICES)
def test_no_error_answer_is_documented_as_plain_json(service: str) -> None:
    """FastAPI's own 422 (HTTPValidationError, application/json) is gone from every route."""
    spec = _openapi(service)
    plain = [f"{m.upper()} {p} {s}" for p, m, op in _operations(spec) if p not in OPS
             for s, answer in op["responses"].items()
             if s.startswith(("4", "5")) and "application/json" in answer.get("content", {})]
    assert plain == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize("service", SERVICES)
def test_ops_routes_say_what_they_answer(service: str) -> None:
    """`/metrics` is Prometheus text; `/ready` documents its 503; `/health` is open."""
    paths = _openapi(service)["paths"]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert "503" in paths["/ready"]["get"]["responses"]
    assert "401" not in paths["/health"]["get"]["responses"]


def test_every_api_route_demands_a_key() -> None:
    """No route outside /health, /ready and /metrics is open (so 401/403/429 apply to all)."""
    from lifeline_servicekit.openapi import api_routes, demands_key

    apps = {service: importlib.import_module(f"lifeline_{service}.app").build_app() for service in SERVICES}
    open_routes = [f"{service} {route.path}" for service, app in apps.items()
                   for route in api_routes(app.routes)
                   if route.path not in OPS and route.include_in_schema and not demands_key(route)]
    assert open_routes == []
