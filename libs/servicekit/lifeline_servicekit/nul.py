"""A NUL character (`\\u0000`) in a JSON body is a 422 naming its field, never a 500.

PostgreSQL cannot store a NUL in text or jsonb, so one that passes validation fails at
the database. Events are checked where they are parsed (`lifeline_events.storable`);
every other JSON body (labels, reasons, notes, …) is checked here, once, by a dependency
that `create_app` attaches to every route declaring a body. A route that reads its body
itself (ingest's event append, the hot path) declares none and pays nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from lifeline_servicekit.auth import principal_for, token_from_headers

_ESCAPED_NUL = b"\\u0000"  # JSON strings carry a NUL only escaped (raw control characters are invalid)


def _nuls(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """The location of every string or key holding a NUL, depth first."""
    if isinstance(value, str):
        if "\x00" in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*where, key)
            yield from _nuls(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nuls(item, (*where, index))


async def refuse_nul_in_body(request: Request) -> None:
    """422 naming each body field holding a NUL; a body without one costs a byte search."""
    body = await request.body()  # cached: the route's own body parsing reads the same bytes
    if _ESCAPED_NUL not in body:
        return
    try:
        document = json.loads(body)
    except ValueError:
        return  # not JSON: the body's own validation answers
    found = list(_nuls(document, ("body",)))
    if found and _authenticated(request):  # an anonymous caller gets the route's 401 first
        raise RequestValidationError([
            {"type": "string_nul", "loc": loc, "input": None,
             "msg": "a NUL character (\\u0000) cannot be stored"} for loc in found])


def _authenticated(request: Request) -> bool:
    token = token_from_headers(request.headers)
    return token is not None and principal_for(request.app.state.settings.api_keys, token) is not None


def guard_bodies(routes: Iterable[Any]) -> None:
    """Attach the NUL check to every route with a declared body, through nested routers.

    Call before the routers are included: an included route is built from its route's
    dependencies when the app first routes.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            if route.body_field is not None and not any(
                    d.dependency is refuse_nul_in_body for d in route.dependencies):
                route.dependencies.append(Depends(refuse_nul_in_body))
        elif hasattr(route, "original_router"):
            guard_bodies(route.original_router.routes)
