"""The one table from governance's errors to HTTP statuses (domain errors carry none)."""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lifeline_governance.errors import (
    GovernanceError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    TransitionRefusedError,
)
from lifeline_servicekit.problems import problem

STATUS: tuple[tuple[type[GovernanceError], int, str], ...] = (
    (NotFoundError, 404, "Not found"),
    (TransitionRefusedError, 409, "Transition refused"),
    (PreconditionFailedError, 412, "Precondition failed"),
    (InvalidRequestError, 422, "Invalid request"),
)


def install(app: FastAPI) -> None:
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
