"""The one table from governance's errors to HTTP statuses (domain errors carry none)."""

from __future__ import annotations

import hashlib

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lifeline_common.errors import ConflictError, TransientError
from lifeline_governance.errors import (
    GovernanceError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    TransitionRefusedError,
)
from lifeline_servicekit.problems import problem
from lifeline_store import wrap_errors

STATUS: tuple[tuple[type[GovernanceError], int, str], ...] = (
    (NotFoundError, 404, "Not found"),
    (TransitionRefusedError, 409, "Transition refused"),
    (PreconditionFailedError, 412, "Precondition failed"),
    (InvalidRequestError, 422, "Invalid request"),
)


def _driver_problem(exc: Exception) -> JSONResponse:
    """A driver error that escaped an adapter, classified by lifeline_store's one table."""
    try:
        with wrap_errors("governance"):
            raise exc
    except TransientError as mapped:
        return problem(503, "Dependency unavailable", str(mapped))
    except ConflictError as mapped:
        return problem(409, "Conflict", str(mapped))
    except Exception as mapped:
        return problem(500, "Storage error", str(mapped))
    return problem(500, "Storage error", repr(exc))


def install(app: FastAPI) -> None:
    for driver_error in (
        OSError,
        asyncpg.exceptions.PostgresError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.InternalClientError,
    ):
        app.add_exception_handler(driver_error, lambda _r, exc: _driver_problem(exc))

    @app.exception_handler(GovernanceError)
    async def _governance(_: Request, exc: GovernanceError) -> JSONResponse:
        status, title = next(((s, t) for cls, s, t in STATUS if isinstance(exc, cls)), (500, "Error"))
        return problem(status, title, exc.detail, **exc.extra)


def key_fingerprint(request: Request) -> str:
    """The caller's key as an audit actor: the first 12 hex of its SHA-256."""
    header = request.headers.get("authorization", "")
    token = (
        header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    )
    return "key:" + hashlib.sha256(token.encode()).hexdigest()[:12]
