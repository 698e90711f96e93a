"""Every route of every service, walked with each role (README, "Who can do what").

A tenant's `admin` acts inside its own tenant only; naming another tenant needs the
platform `operator` scope (the service key's and the operator's). The walk reads the
scope each route demands from the app itself, so a new route is walked without edits.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute

from lifeline_testing.processes import (
    TENANT_ADMIN_KEY,
    TEST_API_KEY,
    ServiceProcess,
    auth,
    services_without_peers,
)

SERVICES = ["ingest", "replay", "snapshot", "memory", "governance", "tracestore"]
READ_ONLY = "test-read-only"
OTHER_TENANT = "test-other-tenant"   # tenant `other`, ingest + read
SAMPLES = {"session_id": "s-1", "person_id": "p-1", "model_id": "m-1", "intent": "pricing",
           "trace_id": "0190f5a6-0000-7000-8000-000000000001",
           "snapshot_id": "0190f5a6-0000-7000-8000-000000000002",
           "otel_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "code": "c", "kind": "error"}


def _required_scope(route: APIRoute) -> str | None:
    """The scope `require_scope(...)` demands of this route, or None for an open route."""
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        call = dep.call
        if getattr(call, "__qualname__", "").startswith("require_scope."):
            cells = dict(zip(call.__code__.co_freevars, call.__closure__ or (), strict=True))
            return str(cells["scope"].cell_contents)
        pending.extend(dep.dependencies)
    return None


def _api_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """APIRoutes with their full paths, through included routers (FastAPI includes lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes,
                                   prefix + route.include_context.prefix)


def _routes(service: str) -> list[tuple[str, str, str | None]]:
    """(method, path with sample ids, scope) of every route of the service."""
    app = importlib.import_module(f"lifeline_{service}.app").build_app()
    walked = []
    for template, route in _api_routes(app.routes):
        path = template
        for name, value in SAMPLES.items():
            path = path.replace("{" + name + "}", value)
        walked.extend((method, path, _required_scope(route)) for method in sorted(route.methods - {"HEAD"}))
    return walked


@pytest.fixture
def running(fresh_database: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    """Every service with its peers unreachable: what is checked here answers before any peer."""
    with services_without_peers(SERVICES, fresh_database, redis_url, tmp_path) as procs:
        yield procs


def _status(client: httpx.Client, method: str, url: str, key: str | None) -> int:
    headers = auth(key) if key else {}
    return client.request(method, url, headers=headers, json={} if method != "GET" else None).status_code


async def test_every_route_of_every_service_with_each_role(running: dict[str, ServiceProcess]) -> None:
    """401 without a key; 403 for a missing scope and for a tenant admin naming another
    tenant; never 401/403 for the operator in any tenant or a tenant admin in its own."""
    wrong: list[str] = []
    walked = 0
    with httpx.Client(timeout=30) as client:
        for service, proc in running.items():
            for method, path, scope in _routes(service):
                if scope is None:
                    continue
                walked += 1
                url = proc.url + path
                cross = url + ("&" if "?" in url else "?") + "tenant_id=other"
                own = url + ("&" if "?" in url else "?") + "tenant_id=default"
                expect = {
                    "no key": (_status(client, method, url, None), {401}),
                    "read-only": (_status(client, method, url, READ_ONLY),
                                  None if scope == "read" else {403}),
                    "tenant admin, own tenant": (_status(client, method, own, TENANT_ADMIN_KEY),
                                                 {403} if scope == "operator" else None),
                    "tenant admin, other tenant": (_status(client, method, cross, TENANT_ADMIN_KEY), {403}),
                    "other tenant's key, naming default": (
                        _status(client, method, own, OTHER_TENANT), {403}),
                    "operator, other tenant": (_status(client, method, cross, TEST_API_KEY), None),
                }
                for role, (got, allowed) in expect.items():
                    ok = got in allowed if allowed is not None else got not in (401, 403)
                    if not ok:
                        wrong.append(f"{service} {method} {path} [{scope}] {role}: {got}")
    assert walked > 40
    assert wrong == []


async def _trace_counts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT tenant_id, count(*) AS n FROM traces.event_traces GROUP BY 1")
    finally:
        await conn.close()
    return {r["tenant_id"]: r["n"] for r in rows}


async def _add_traces(database_url: str, tenants: Iterable[str]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for tenant in tenants:
            await conn.execute(
                "INSERT INTO traces.event_traces (trace_id, ts, tenant_id, person_id, session_id, seq, "
                "event_type, event_data, context_snapshot, otel_trace_id, source) VALUES "
                "(gen_random_uuid(), now() - interval '1 minute', $1, 'p-1', 's-1', 1, "
                "'session.started', '{}'::jsonb, '{}'::jsonb, NULL, 'events')", tenant)
    finally:
        await conn.close()


async def test_a_tenant_admin_cleans_up_its_own_traces_only(
        running: dict[str, ServiceProcess], fresh_database: str) -> None:
    """`POST /replay/cleanup` by a tenant admin leaves other tenants' traces; the operator's
    (without `?tenant_id=`) is the platform-wide retention run."""
    await _add_traces(fresh_database, ["default", "other"])
    url = running["tracestore"].url + "/replay/cleanup?days_to_keep=0"
    async with httpx.AsyncClient() as client:
        mine = await client.post(url, headers=auth(TENANT_ADMIN_KEY))
        assert mine.status_code == 200 and mine.json()["tenant_id"] == "default"
        assert await _trace_counts(fresh_database) == {"other": 1}
        stats = await client.get(running["tracestore"].url + "/replay/stats?tenant_id=other",
                                 headers=auth(TENANT_ADMIN_KEY))
        assert stats.status_code == 403
        platform = await client.post(url, headers=auth(TEST_API_KEY))
        assert platform.status_code == 200 and platform.json()["tenant_id"] is None
    assert await _trace_counts(fresh_database) == {}
