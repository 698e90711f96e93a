"""A 405 names the methods the route allows (`Allow`), as RFC 9110 requires."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lifeline_ingest.app import build_app


def test_a_405_carries_allow_and_is_a_problem() -> None:
    """A wrong method on a real route is problem+json with `Allow` (no server needed to route)."""
    client = TestClient(build_app())  # not entered: the lifespan (database, bus) never runs
    for method, path, allowed in (("PUT", "/health", "GET"),
                                  ("DELETE", "/v1/sessions/s-1/events", "GET, POST")):
        answer = client.request(method, path)
        assert answer.status_code == 405
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert set(answer.headers["allow"].split(", ")) == set(allowed.split(", "))
