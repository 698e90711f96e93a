"""servicekit's CORS: the explorer's origin may call a service from the browser, others may not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from lifeline_servicekit import ServiceSettings, create_app
from lifeline_servicekit.cors import LeanCORSMiddleware, vary_origin

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


# LeanCORSMiddleware answers a request without `Origin` itself (cors.py): its headers must be
# Starlette's, byte for byte, with and without a `Vary` already on the response.

_HEADER_LISTS = [
    [],
    [(b"content-type", b"application/json")],
    [(b"vary", b"Accept-Encoding"), (b"content-length", b"2")],
    [(b"content-length", b"2"), (b"vary", b"Accept-Encoding"), (b"x-a", b"1"), (b"vary", b"Cookie")],
]


@pytest.mark.parametrize("headers", _HEADER_LISTS)
def test_vary_origin_folds_like_starlettes_mutable_headers(headers: list[tuple[bytes, bytes]]) -> None:
    message: dict[str, Any] = {"type": "http.response.start", "headers": list(headers)}
    expected = MutableHeaders(scope=message)
    expected["Vary"] = ", ".join([*expected.getlist("Vary"), "Origin"])
    assert vary_origin(list(headers)) == message["headers"]


def _pair(**settings: Any) -> tuple[TestClient, TestClient]:
    """The service's app, and the same app with Starlette's own CORSMiddleware swapped in."""
    def build() -> FastAPI:
        app = create_app(service="cors-test", settings=ServiceSettings(**settings), lifespan=_nothing,
                         routers=[], readiness=lambda _: [])

        @app.get("/big")
        async def big() -> dict[str, str]:  # over compress_min_bytes: compressed, with a Vary
            return {"text": "veneers " * 400}

        return app

    ours, theirs = build(), build()
    assert any(m.cls is LeanCORSMiddleware for m in ours.user_middleware)
    theirs.user_middleware = [Middleware(CORSMiddleware, *m.args, **m.kwargs) if m.cls is LeanCORSMiddleware
                              else m for m in theirs.user_middleware]
    return TestClient(ours), TestClient(theirs)


_DROP = {b"x-request-id", b"x-trace-id", b"date"}  # differ per request


def _kept(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower(), v) for k, v in raw if k.lower() not in _DROP]


@pytest.mark.parametrize("path", ["/health", "/big", "/nowhere"])
@pytest.mark.parametrize("request_headers", [
    {}, {"Accept-Encoding": "gzip"}, {"Origin": EXPLORER}, {"Origin": "http://evil.example"},
    {"Origin": EXPLORER, "Accept-Encoding": "gzip"},
], ids=["plain", "gzip", "explorer", "evil", "explorer-gzip"])
def test_answers_carry_starlettes_cors_headers(path: str, request_headers: dict[str, str]) -> None:
    ours, theirs = _pair(cors_origins=[EXPLORER])
    with ours, theirs:
        a, b = ours.get(path, headers=request_headers), theirs.get(path, headers=request_headers)
    assert a.status_code == b.status_code
    assert _kept(a.headers.raw) == _kept(b.headers.raw)
    assert any(k == b"vary" and b"Origin" in v for k, v in a.headers.raw)


def test_a_preflight_is_starlettes() -> None:
    ours, theirs = _pair(cors_origins=[EXPLORER])
    preflight = {"Origin": EXPLORER, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization"}
    with ours, theirs:
        a, b = ours.options("/health", headers=preflight), theirs.options("/health", headers=preflight)
    assert (a.status_code, a.headers.raw, a.content) == (b.status_code, b.headers.raw, b.content)
