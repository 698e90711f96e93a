"""The OpenAPI tells the truth: every route documents the problem+json answers it can give.

`create_app` calls `document_problems` once; the statuses each route may answer are read
from the route itself, so a new route is documented without edits:

- 401, 403, 429: a route that demands an API key (`require_scope`); 429 is per key;
- 404: a path parameter (the resource may not exist or belong to another tenant);
- 409: a write (POST, PUT, PATCH, DELETE): the state may have moved;
- 413: a request body; 422: any parameter or body (FastAPI's own 422 is replaced);
- 503: a keyed route (PostgreSQL, the bus or a peer down); 504: a bounded wait
  (`?min_seq=`, `?after_session=`);
- any other status a route declares itself (`responses=LOCKED`: 423 where a lease can
  refuse the request) is documented as problem+json too;
- `/metrics` answers Prometheus text, not JSON; `/ready` 503 is its own JSON report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from lifeline_servicekit.problems import PROBLEM

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "description": "422: each field and what is wrong with it",
                   "items": {"type": "object", "properties": {"field": {"type": "string"},
                                                              "msg": {"type": "string"}}}},
    },
    "additionalProperties": True,
}
WAIT_PARAMETERS = frozenset({"min_seq", "after_session"})
LOCKED: dict[int | str, dict[str, Any]] = {423: {"description": "Locked"}}
"""`responses=LOCKED` on a route that an edit lock can refuse (documented as problem+json)."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DESCRIPTIONS = {
    401: "No API key, or an unknown one",
    403: "The key lacks the scope, or names another tenant without `operator`",
    404: "Not found (or another tenant's)",
    409: "Conflict with the current state",
    413: "Payload too large",
    422: "Invalid request: `errors` names each field",
    423: "Locked: another participant's live lease covers a scope the request touches "
         "(`scope`, `holder`, `expires_at`)",
    429: "Rate limited: retry after `Retry-After` seconds",
    503: "A dependency is unavailable: retry after `Retry-After` seconds",
    504: "The bounded wait ran out before the state got there",
}


def demands_key(route: APIRoute) -> bool:
    """Whether some dependency of the route authenticates (`require_scope`, `authenticate`)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        name = getattr(dep.call, "__qualname__", "")
        if name.startswith("require_scope.") or name == "authenticate":
            return True
        pending.extend(dep.dependencies)
    return False


def statuses_of(route: APIRoute, operation: dict[str, Any]) -> list[int]:
    """The problem statuses this route may answer (see the module's docstring)."""
    params = {p.get("name") for p in operation.get("parameters", [])}
    in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    body = "requestBody" in operation
    keyed = demands_key(route)
    wanted = {401: keyed, 403: keyed, 404: in_path, 409: bool((route.methods or set()) & WRITES), 413: body,
              422: bool(params) or body, 429: keyed, 503: keyed, 504: bool(params & WAIT_PARAMETERS)}
    declared = {int(s) for s in route.responses if str(s).isdigit() and int(s) in DESCRIPTIONS}
    return sorted({status for status, applies in wanted.items() if applies} | declared)


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """APIRoutes through included routers (FastAPI includes them lazily)."""
    for _, route in routed_paths(routes):
        yield route


def routed_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every APIRoute: a router included into another keeps its own
    paths, so the include prefixes add up."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            yield from routed_paths(route.original_router.routes, prefix + route.include_context.prefix)


def _template(path: str) -> str:
    """`/v1/intents/{intent:path}` as OpenAPI spells it: `/v1/intents/{intent}`."""
    parts = path.split("{")
    return parts[0] + "".join("{" + p.split(":", 1)[0].split("}", 1)[0] + "}" + p.split("}", 1)[1]
                              if "}" in p else "{" + p for p in parts[1:])


def document_problems(app: FastAPI) -> None:
    """Wrap `app.openapi` so the document names every problem answer of every route."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, route in routed_paths(app.routes):
            item = spec["paths"].get(_template(path), {})
            for method in route.methods or ():
                operation = item.get(method.lower())
                if operation is None:
                    continue
                for status in statuses_of(route, operation):
                    operation["responses"][str(status)] = {"description": DESCRIPTIONS[status],
                                                           "content": problem}
        metrics = spec["paths"].get("/metrics", {}).get("get")
        if metrics is not None:
            metrics["responses"]["200"] = {"description": "Prometheus text exposition",
                                           "content": {"text/plain": {"schema": {"type": "string"}}}}
        ready = spec["paths"].get("/ready", {}).get("get")
        if ready is not None:
            ready["responses"]["503"] = {"description": "Not ready (a critical check fails) or draining",
                                         "content": {"application/json": {"schema": {"type": "object"}}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused not in str(spec["paths"]):
                spec["components"]["schemas"].pop(unused, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
