"""Every route of every service, walked with each role (README, "Who can do what").

A tenant's `admin` acts inside its own tenant only; naming another tenant needs the
platform `operator` scope (the service key's and the operator's). The walk reads the
scope each route demands from the app itself, so a new route is walked without edits.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi.routing import APIRoute
from websockets.asyncio.client import connect

from lifeline_servers import free_port
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import (
    TENANT_ADMIN_KEY,
    TEST_API_KEY,
    TEST_KEYS,
    ServiceProcess,
    auth,
    services_without_peers,
)
from lifeline_testing.tracestore import service_env, wait_session_traces

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


@pytest.fixture(scope="module")
def running(module_database: str, module_bus: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    """Every service with its peers unreachable: what is checked here answers before any peer.
    Shared by the module's two tests that use it (six processes take ~20 s to start)."""
    with services_without_peers(SERVICES, module_database, module_bus,
                                tmp_path_factory.mktemp("roles")) as procs:
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
                "'session.started', '{}'::json, '{}'::json, NULL, 'events')", tenant)
    finally:
        await conn.close()


async def test_a_tenant_admin_cleans_up_its_own_traces_only(
        running: dict[str, ServiceProcess], module_database: str) -> None:
    """`POST /replay/cleanup` by a tenant admin leaves other tenants' traces; the operator's
    (without `?tenant_id=`) is the platform-wide retention run."""
    await _add_traces(module_database, ["default", "other"])
    url = running["tracestore"].url + "/replay/cleanup?days_to_keep=0"
    async with httpx.AsyncClient() as client:
        mine = await client.post(url, headers=auth(TENANT_ADMIN_KEY))
        assert mine.status_code == 200 and mine.json()["tenant_id"] == "default"
        assert await _trace_counts(module_database) == {"other": 1}
        stats = await client.get(running["tracestore"].url + "/replay/stats?tenant_id=other",
                                 headers=auth(TENANT_ADMIN_KEY))
        assert stats.status_code == 403
        platform = await client.post(url, headers=auth(TEST_API_KEY))
        assert platform.status_code == 200 and platform.json()["tenant_id"] is None
    assert await _trace_counts(module_database) == {}


PERSON_KEY = "test-person-p7"
"""A tenant admin (and writer) of tenant `default` limited to person p-7: every service
answers it as if p-8's sessions, traces and profile did not exist (README, "Who can do what")."""
PEERS = ("ingest", "replay", "snapshot", "memory", "governance")


@pytest.fixture
def stack(fresh_database: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    """All six services, each knowing the others, with the person-scoped key configured."""
    keys = {**TEST_KEYS, PERSON_KEY: {"tenant": "default", "scopes": ["ingest", "read", "admin"],
                                      "persons": ["p-7"]}}
    ports = {name: free_port() for name in SERVICES}
    urls = {f"{name}_url": f"http://127.0.0.1:{ports[name]}" for name in PEERS}
    env = service_env(fresh_database, redis_url, **urls, service_api_key=TEST_API_KEY,
                      api_keys=json.dumps(keys), memory_min_sessions=1, memory_min_occurrences=1,
                      governance_job_enabled="false")
    procs = {name: ServiceProcess(f"lifeline_{name}", dict(env), port=ports[name], log_dir=tmp_path)
             for name in SERVICES}
    try:
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(lambda p: p.start(timeout=90), procs.values()))
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()


def _session(person: str) -> list[dict[str, Any]]:
    return [{"event_type": "session.started", "person_id": person, "payload": {}},
            turn(1, "hello", person_id=person, intent="pricing"),
            {"event_type": "session.finished", "person_id": person, "payload": {}}]


# (service, method, path, body): {s} and {p} become a session and its person
SESSION_ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("ingest", "GET", "/v1/sessions/{s}", None),
    ("ingest", "GET", "/v1/sessions/{s}/events", None),
    ("ingest", "GET", "/v1/sessions/{s}/wal", None),
    ("replay", "GET", "/v1/sessions/{s}/state", None),
    ("replay", "GET", "/v1/sessions/{s}/context", None),
    ("replay", "POST", "/v1/sessions/{s}/replay", {"until_seq": 1}),
    ("replay", "GET", "/v1/sessions/{s}/checkpoint", None),
    ("snapshot", "GET", "/v1/sessions/{s}/snapshots", None),
    ("snapshot", "POST", "/v1/sessions/{s}/snapshots", {"label": "scoped"}),
    ("snapshot", "GET", "/v1/sessions/{s}/recap", None),
    ("snapshot", "GET", "/v1/sessions/{s}/export", None),
    ("snapshot", "GET", "/v1/sessions/{s}/wal", None),
    ("memory", "GET", "/v1/persons/{p}/profile", None),
    ("memory", "GET", "/v1/persons/{p}/bias", None),
    ("memory", "GET", "/v1/persons/{p}/sessions/{s}", None),
    ("tracestore", "GET", "/replay/session/{p}/{s}", None),
    ("tracestore", "GET", "/replay/person/{p}", None),
]


async def _ready_for_reading(client: httpx.AsyncClient, procs: dict[str, ServiceProcess]) -> None:
    """Both sessions consolidated (memory) and traced (trace-store), as the operator sees them."""
    for person, session in (("p-7", "s-7"), ("p-8", "s-8")):
        profile = await client.get(procs["memory"].url + f"/v1/persons/{person}/profile",
                                   params={"after_session": session}, headers=auth())
        assert profile.status_code == 200, profile.text
        await wait_session_traces(procs["tracestore"].url, person, session, 3)


async def test_a_person_scoped_key_sees_its_persons_data_only_in_every_service(
        stack: dict[str, ServiceProcess]) -> None:
    """With `"persons": ["p-7"]`, a key reads and writes p-7's session in every service and gets
    the ordinary 404 for p-8's (which the operator reads), cannot write p-8's events (403),
    sees only p-7 in trace listings and stats, and is refused tenant-wide actions (403)."""
    ingest = stack["ingest"].url
    await append(ingest, "s-7", _session("p-7"), key=PERSON_KEY)
    await append(ingest, "s-8", _session("p-8"))
    wrong: list[str] = []
    async with httpx.AsyncClient(timeout=30) as c:
        foreign = await c.post(ingest + "/v1/sessions/s-9/events", headers=auth(PERSON_KEY),
                               json={"events": [turn(1, person_id="p-8")]})
        assert foreign.status_code == 403 and foreign.json()["field"] == "events[0].person_id"
        into_p8 = await c.post(ingest + "/v1/sessions/s-8/events", headers=auth(PERSON_KEY),
                               json={"events": [turn(2, person_id="p-7")]})
        assert into_p8.status_code == 404
        await _ready_for_reading(c, stack)
        for service, method, template, body in SESSION_ROUTES:
            for key, person, session, allowed in ((PERSON_KEY, "p-7", "s-7", range(200, 300)),
                                                  (PERSON_KEY, "p-8", "s-8", {404}),
                                                  (PERSON_KEY, "p-7", "s-8", {404}),
                                                  (TEST_API_KEY, "p-8", "s-8", range(200, 300))):
                if (person, session) == ("p-7", "s-8") and not {"{p}", "{s}"} <= set(template.split("/")):
                    continue  # p-7's session s-8 only means something where the path names both
                path = template.replace("{s}", session).replace("{p}", person)
                r = await c.request(method, stack[service].url + path, json=body, headers=auth(key))
                if r.status_code not in allowed:
                    wrong.append(f"{service} {method} {path} as {key}: {r.status_code} {r.text[:200]}")
        store = stack["tracestore"].url
        mine = await c.get(store + "/replay/session/p-7/s-7", headers=auth(PERSON_KEY))
        theirs = await c.get(store + "/replay/session/p-8/s-8", headers=auth())
        for trace in (mine.json()[0], theirs.json()[0]):
            got = await c.get(f"{store}/replay/{trace['trace_id']}", headers=auth(PERSON_KEY))
            assert got.status_code == (200 if trace["person_id"] == "p-7" else 404), got.text
        stats = (await c.get(store + "/replay/stats", headers=auth(PERSON_KEY))).json()
        assert [p["person_id"] for p in stats["top_persons"]] == ["p-7"]
        assert stats["total_traces"] == stats["top_persons"][0]["trace_count"]
        assert (await c.post(store + "/replay/cleanup", headers=auth(PERSON_KEY))).status_code == 403
        assert (await c.get(ingest + "/v1/admin/audit", headers=auth(PERSON_KEY))).status_code == 403
        models = await c.get(stack["governance"].url + "/v1/models", headers=auth(PERSON_KEY))
        assert models.status_code == 200  # governance holds no person's data
    ws = stack["replay"].url.replace("http", "ws", 1)
    async with connect(f"{ws}/v1/sessions/s-7/ws", additional_headers=auth(PERSON_KEY)) as sock:
        assert orjson.loads(await asyncio.wait_for(sock.recv(), 10))["type"] == "RECOVERY_SYNC"
    async with connect(f"{ws}/v1/sessions/s-8/ws", additional_headers=auth(PERSON_KEY)) as sock:
        assert orjson.loads(await asyncio.wait_for(sock.recv(), 10))["status"] == 404
    assert wrong == []
