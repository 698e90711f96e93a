"""Typed dependencies: what a service's routes need, as one dataclass per service.

The composition root (`app.py`) builds the service's `Deps` dataclass in its lifespan
and hands it over with `provide(app, deps)`; routes declare one typed parameter,

    Deps = Annotated[IngestDeps, Depends(deps_of(IngestDeps))]   # in the service's deps.py
    async def route(deps: Deps) -> ...: deps.pool ...

so a route's adapters are checked names, not untyped `app.state` attributes. Works for
HTTP and WebSocket routes alike (it reads the connection, not the request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from lifeline_servicekit.problems import ProblemError

T = TypeVar("T")
_ATTRIBUTE = "deps"


def provide(app: FastAPI, deps: object) -> None:
    """Make `deps` what `deps_of` hands to the routes (call once, in the lifespan)."""
    setattr(app.state, _ATTRIBUTE, deps)


def deps_from(app: FastAPI, deps_type: type[T]) -> T:
    """The service's dependencies (for readiness checks and other non-route code).

    Raises a 503 problem before the lifespan has provided them (a request during start-up).
    """
    deps = getattr(app.state, _ATTRIBUTE, None)
    if deps is None:
        raise ProblemError(503, "Starting", "the service is still starting")
    if not isinstance(deps, deps_type):
        raise TypeError(f"app provides {type(deps).__name__}, not {deps_type.__name__}")
    return deps


def deps_of(deps_type: type[T]) -> Callable[[HTTPConnection], Awaitable[T]]:
    """A FastAPI dependency returning the service's `deps_type` instance."""

    async def dependency(connection: HTTPConnection) -> T:  # async: no threadpool hop per request
        return deps_from(connection.app, deps_type)

    dependency.__name__ = f"deps_of_{deps_type.__name__}"
    return dependency
