"""RFC 9457 problem+json errors, so every failure names what went wrong.

This is the one place where error kinds become HTTP statuses (`PROBLEM_KINDS`): domain
and adapter errors name their kind by class (lifeline_common.errors draws the tree) and
never carry a status. `ProblemError` is the API layer's own way to answer directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lifeline_common.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LifelineError,
    LockedError,
    NotFoundError,
    TooLargeError,
    TransientError,
)

PROBLEM = "application/problem+json"

PROBLEM_KINDS: tuple[tuple[type[LifelineError], int, str], ...] = (
    (TransientError, 503, "Dependency unavailable"),
    (TooLargeError, 413, "Payload too large"),
    (InvalidInputError, 422, "Invalid request"),
    (NotFoundError, 404, "Not found"),
    (ForbiddenError, 403, "Forbidden"),
    (LockedError, 423, "Locked"),
    (ConflictError, 409, "Conflict"),
)
"""Error kind → (status, default title), most specific first; an error's own `title` wins."""


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem(status: int, title: str, detail: str = "", **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts)


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error path to problem+json; the service keeps running."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _loc(tuple(e.get("loc", ()))), "msg": e.get("msg", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        answer = problem(exc.status_code, str(exc.detail), str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the first matching route's methods only
            answer.headers["Allow"] = ", ".join(sorted(_methods_of(request.app.routes, request.url.path)))
        return answer

    @app.exception_handler(LifelineError)
    async def _lifeline(_: Request, exc: LifelineError) -> JSONResponse:
        answer = lifeline_problem(exc)
        if answer is None:
            raise exc  # no kind: an internal error (500), logged as before
        return answer


def _methods_of(routes: Iterable[Any], path: str) -> set[str]:
    """Every method some route serves at `path`, through included routers."""
    methods: set[str] = set()
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI includes routers lazily
            methods |= _methods_of(route.original_router.routes, path.removeprefix(
                route.include_context.prefix))
        elif getattr(route, "path_regex", None) is not None and route.path_regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return methods


def lifeline_problem(exc: LifelineError) -> JSONResponse | None:
    """The problem document for a Lifeline error, by its kind; None for an unkinded one.

    An error relaying a peer service's answer (lifeline_clients' `PeerRefusedError`)
    carries that answer's `status` and keeps it. Members: the error's `title`, `detail`
    (else `str(exc)`), `errors` and `extra`, when it has them.
    """
    status, title = next(((s, t) for kind, s, t in PROBLEM_KINDS if isinstance(exc, kind)), (None, ""))
    relayed = getattr(exc, "status", None)
    if status is None and isinstance(relayed, int):
        status = relayed
    if status is None:
        return None
    extra: dict[str, Any] = dict(getattr(exc, "extra", None) or {})
    if getattr(exc, "errors", None) is not None:
        extra["errors"] = exc.errors  # type: ignore[attr-defined]
    return problem(status, getattr(exc, "title", None) or title,
                   getattr(exc, "detail", None) or str(exc), **extra)
