"""Grafana dashboards: well formed, provisioned, and every panel's PromQL returns data.

A real Prometheus (Debian's `prometheus` package) scrapes real ingest, trace-store and
replay processes while traffic runs through them; a panel whose expression returns
nothing (or only NaN, which Grafana shows as no data) fails the test.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml

from lifeline_events import TOPIC_EVENTS, TOPIC_TURNS
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import TEST_API_KEY, ServiceProcess, auth
from lifeline_testing.prometheus import PrometheusServer
from lifeline_testing.redis_dbs import flushed_db
from lifeline_testing.topics import produce_raw
from lifeline_testing.tracestore import Services, wait_session_traces
from lifeline_testing.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
REPLAY_MISSING = ("the replay service is not built (lifeline_replay.app is missing): the recovery "
                  "dashboard's panels cannot show data")


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def promql(expr: str) -> str:
    """What Grafana would send: its interval variables filled in."""
    return expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$__interval", "15s")


def test_dashboards_are_provisioned_and_well_formed() -> None:
    """Each dashboard parses, has a unique uid, and every panel queries the provisioned Prometheus."""
    found = dashboards()
    assert set(found) == {"governance", "memory", "overview", "recovery", "traces"}
    assert len({d["uid"] for d in found.values()}) == len(found)
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "lifeline.yml").read_text())["datasources"]
    prometheus_uid = next(d["uid"] for d in datasources if d["type"] == "prometheus")
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "lifeline.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    for name, dashboard in found.items():
        assert dashboard["panels"], f"{name} has no panels"
        for panel in dashboard["panels"]:
            assert panel["targets"], f"{name}: panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == prometheus_uid
                assert target["expr"].strip()



def test_every_dashboard_metric_is_exported_by_the_code() -> None:
    """Each `lifeline_…` metric a panel queries is declared somewhere in libs/ or services/.

    The live-data tests below cover the overview, traces and recovery dashboards; this
    catches a renamed or misspelt metric on every dashboard, memory's and governance's too."""
    declared = "\n".join(p.read_text() for top in ("libs", "services") for p in (ROOT / top).rglob("*.py"))
    for name, dashboard in dashboards().items():
        for title, expr in expressions(dashboard):
            for metric in set(re.findall(r"\blifeline_[a-z0-9_]+", expr)):
                base = re.sub(r"_(bucket|count|sum)$", "", metric)
                assert f'"{base}"' in declared, \
                    f"{name}: panel {title!r} queries {metric}, which no code exports"


@dataclass
class Observed:
    prometheus: PrometheusServer
    replay: ServiceProcess | None


async def _one_off_traffic(ingest: ServiceProcess, store: ServiceProcess, redis_url: str) -> None:
    """Rejected events, poison records, a replay, a stream and a cleanup."""
    await produce_raw(redis_url, TOPIC_EVENTS, [("dash-x", b"not an event")])
    await produce_raw(redis_url, TOPIC_TURNS, [("dash-x", b"not a turn either")])
    async with httpx.AsyncClient(timeout=30) as c:
        assert (await c.post(f"{ingest.url}/v1/sessions/dash-0/events", json={"events": [{}]},
                             headers=auth())).status_code == 422
        assert (await c.get(f"{store.url}/replay/stats")).status_code == 401
        traces = await wait_session_traces(store.url, "p-dash", "dash-0", 1)
        assert (await c.post(f"{store.url}/replay/{traces[-1]['trace_id']}", json={},
                             headers=auth())).status_code == 200
        stream = await c.post(f"{store.url}/replay/session/p-dash/dash-0/stream", params={"time_scale": 0},
                              headers=auth())
        assert stream.status_code == 200
        assert (await c.post(f"{store.url}/replay/cleanup", headers=auth())).status_code == 200


async def _steady_traffic(ingest: ServiceProcess) -> None:
    """A few events every half second, so every rate() sees increases between scrapes."""
    turn_id = 0
    while True:
        turn_id += 1
        for s in range(3):
            await append(ingest.url, f"dash-{s}", [turn(turn_id, person_id="p-dash")])
        await asyncio.sleep(0.5)


async def _scraped(prometheus: PrometheusServer, jobs: set[str]) -> None:
    async def probe() -> dict[str, str] | None:
        health = await prometheus.targets_health()
        return health if {health.get(job) for job in jobs} == {"up"} else None

    await eventually(probe, timeout=30, what=f"Prometheus scraping {sorted(jobs)}")


@pytest.fixture(scope="module")
async def observed(module_database: str, redis_server: Any, tmp_path_factory: pytest.TempPathFactory,
                   ) -> AsyncIterator[Observed]:
    """ingest, trace-store and (when built) replay under traffic, scraped every second."""
    redis_url = await flushed_db(redis_server.url, 7)
    work = tmp_path_factory.mktemp("dashboards")
    procs = Services(work)
    try:
        ingest = procs.ingest(module_database, redis_url)
        store = procs.tracestore(module_database, redis_url, ingest=ingest, trace_cleanup_interval_s=1,
                                 trace_metrics_interval_s=1, lag_interval_s=1)
        replay = None
        if importlib.util.find_spec("lifeline_replay.app") is not None:
            replay = procs.start("lifeline_replay", {
                "LIFELINE_DATABASE_URL": module_database, "LIFELINE_BUS_URL": redis_url,
                "LIFELINE_REDIS_URL": redis_url, "LIFELINE_INGEST_URL": ingest.url,
                "LIFELINE_SERVICE_API_KEY": TEST_API_KEY})
        targets = {"ingest": [ingest.url[7:]], "tracestore": [store.url[7:]]}
        if replay is not None:
            targets["replay"] = [replay.url[7:]]
        with PrometheusServer(targets, work / "prometheus") as prometheus:
            await _scraped(prometheus, set(targets))
            steady = asyncio.create_task(_steady_traffic(ingest))
            await _one_off_traffic(ingest, store, redis_url)
            yield Observed(prometheus, replay)
            steady.cancel()
    finally:
        procs.stop_all()


async def _panels_without_data(prometheus: PrometheusServer, names: list[str],
                               timeout: float = 45) -> list[str]:
    """Poll every expression of the named dashboards; return those still without data at the deadline."""
    pending = {(name, title, expr) for name in names for title, expr in expressions(dashboards()[name])}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for item in sorted(pending):
            if await prometheus.finite_values(promql(item[2])):
                pending.discard(item)
        if pending:
            await asyncio.sleep(1)
    return [f"{name}: {title!r}: {expr}" for name, title, expr in sorted(pending)]


async def test_overview_and_traces_panels_show_data(observed: Observed) -> None:
    """Every PromQL expression of the overview and traces dashboards returns data from the live services."""
    missing = await _panels_without_data(observed.prometheus, ["overview", "traces"])
    assert not missing, "panels without data:\n" + "\n".join(missing)


async def _reconnecting(url: str) -> None:
    """Connect, take the RECOVERY_SYNC, leave; again and again (each connect is a recovery)."""
    while True:
        async with websockets.connect(url) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "RECOVERY_SYNC"
        await asyncio.sleep(0.3)


async def test_recovery_panels_show_data(observed: Observed) -> None:
    """WebSocket recoveries through replay (one client staying on) make every recovery panel show data."""
    if observed.replay is None:
        pytest.fail(REPLAY_MISSING)
    ws_url = f"{observed.replay.url.replace('http://', 'ws://')}/v1/sessions/dash-1/ws?api_key={TEST_API_KEY}"
    async with websockets.connect(ws_url) as staying:
        assert json.loads(await asyncio.wait_for(staying.recv(), 10))["type"] == "RECOVERY_SYNC"
        clients = asyncio.create_task(_reconnecting(ws_url))
        try:
            missing = await _panels_without_data(observed.prometheus, ["recovery"])
        finally:
            clients.cancel()
    assert not missing, "panels without data:\n" + "\n".join(missing)
