"""servicekit's HTTP edge: the tenant rule, the session-id pattern, typed deps, error kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from lifeline_common.errors import (
    ConflictError,
    InvalidInputError,
    LifelineError,
    NotFoundError,
    TooLargeError,
    TransientError,
)
from lifeline_servicekit import (
    Principal,
    ProblemError,
    SessionId,
    deps_of,
    forwarded_authorization,
    provide,
    session_not_found,
    tenant_for,
)
from lifeline_servicekit.problems import install_problem_handlers, lifeline_problem

READER = Principal("t-1", frozenset({"read"}))
ADMIN = Principal("t-1", frozenset({"admin"}))
OPERATOR = Principal("t-1", frozenset({"operator"}))


def test_a_key_acts_in_its_own_tenant() -> None:
    """Without ?tenant_id= (or naming its own), every key acts in its own tenant."""
    assert tenant_for(READER, None) == "t-1"
    assert tenant_for(READER, "t-1") == "t-1"


def test_crossing_tenants_needs_the_operator_scope() -> None:
    """Naming another tenant is a 403 without `operator`, a tenant admin included."""
    for principal in (READER, ADMIN):
        with pytest.raises(ProblemError) as refused:
            tenant_for(principal, "t-2")
        assert refused.value.status == 403
    assert tenant_for(ADMIN, ADMIN.tenant) == ADMIN.tenant
    assert tenant_for(OPERATOR, "t-2") == "t-2"


def test_session_not_found_is_one_404() -> None:
    """An unknown session answers 404 "Session not found" naming the session."""
    problem = session_not_found("s-1")
    assert (problem.status, problem.title) == (404, "Session not found")
    assert "'s-1'" in problem.detail


@dataclass(frozen=True)
class _Deps:
    name: str


DepsParam = Annotated[_Deps, Depends(deps_of(_Deps))]

def _app(*errors: LifelineError) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    provide(app, _Deps("wired"))

    @app.get("/s/{session_id}")
    async def session(session_id: SessionId, d: DepsParam) -> dict[str, str]:
        return {"session": session_id, "deps": d.name}

    @app.get("/fail/{i}")
    async def fail(i: int) -> None:
        raise errors[i]

    return app


def test_routes_get_the_typed_deps_and_the_session_pattern() -> None:
    """A route receives the provided dataclass; a session id outside the pattern is a 422."""
    client = TestClient(_app())
    assert client.get("/s/s-1").json() == {"session": "s-1", "deps": "wired"}
    assert client.get("/s/bad%20id").status_code == 422


def test_error_kinds_map_to_statuses_in_one_place() -> None:
    """Each kind answers its status as problem+json, with the error's title and detail."""

    class Refused(ConflictError):
        title = "Session moved on"

    errors = (TransientError("db down"), InvalidInputError("bad", [{"field": "x", "msg": "bad"}]),
              TooLargeError("big"), NotFoundError("gone"), Refused("stale"))
    client = TestClient(_app(*errors))
    answers = [client.get(f"/fail/{i}") for i in range(len(errors))]
    assert [a.status_code for a in answers] == [503, 422, 413, 404, 409]
    assert answers[4].json()["title"] == "Session moved on"
    assert answers[1].json()["errors"] == [{"field": "x", "msg": "bad"}]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)


def test_a_relayed_peer_answer_keeps_its_status() -> None:
    """An unkinded error carrying a peer's `status` keeps it; one without is not mapped."""

    class Relayed(LifelineError):
        def __init__(self) -> None:
            super().__init__("nope")
            self.status, self.title, self.detail = 403, "Forbidden", "ingest: nope"

    answer = lifeline_problem(Relayed())
    assert answer is not None and answer.status_code == 403
    assert lifeline_problem(LifelineError("bug")) is None


def test_forwarded_authorization_prefers_the_header() -> None:
    """The caller's Authorization is forwarded as is; an X-API-Key becomes a bearer."""

    class _Conn:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    assert forwarded_authorization(_Conn({"authorization": "Bearer k"})) == "Bearer k"  # type: ignore[arg-type]
    assert forwarded_authorization(_Conn({"x-api-key": "k2"})) == "Bearer k2"  # type: ignore[arg-type]
