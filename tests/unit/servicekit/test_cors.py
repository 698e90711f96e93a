"""servicekit's CORS: the explorer's origin may call a service from the browser, others may not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lifeline_servicekit import ServiceSettings, create_app

EXPLORER = "http://127.0.0.1:8006"


@asynccontextmanager
async def _nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


def _client(**settings: Any) -> TestClient:
    app = create_app(service="cors-test", settings=ServiceSettings(**settings), lifespan=_nothing,
                     routers=[], readiness=lambda _: [])
    return TestClient(app)


def test_the_default_allows_the_explorer_that_make_run_serves() -> None:
    """Without a setting, trace-store's origin on its `make run` port is allowed."""
    assert EXPLORER in ServiceSettings().cors_origins


def test_a_preflight_from_the_explorer_allows_the_authorization_header() -> None:
    """The browser's preflight for a keyed POST is answered, naming the origin."""
    with _client(cors_origins=[EXPLORER]) as client:
        r = client.options("/health", headers={
            "Origin": EXPLORER, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EXPLORER
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


def test_another_origin_gets_no_cors_headers() -> None:
    """A page from an origin not in the setting cannot read the answers."""
    with _client(cors_origins=[EXPLORER]) as client:
        r = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_an_empty_setting_turns_cors_off() -> None:
    """LIFELINE_CORS_ORIGINS= (empty) allows no browser origin at all."""
    with _client(cors_origins="") as client:
        r = client.get("/health", headers={"Origin": EXPLORER})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("raw", ["http://a:1, http://b:2", '["http://a:1", "http://b:2"]'])
def test_origins_come_from_the_environment_as_a_list_or_commas(raw: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """LIFELINE_CORS_ORIGINS takes comma-separated origins or a JSON list."""
    monkeypatch.setenv("LIFELINE_CORS_ORIGINS", raw)
    assert ServiceSettings().cors_origins == ["http://a:1", "http://b:2"]
