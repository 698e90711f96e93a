"""The stack the session explorer's browser test drives: real service processes on free ports.

ingest, replay, memory, governance and trace-store are started in parallel (they only
need the database and the bus to become ready); snapshot is deliberately *not* started,
so its URL in the explorer's config points at a closed port: the page must say that
snapshot is down while every other panel keeps working.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lifeline_servers import free_port
from lifeline_testing.processes import TEST_API_KEY, TEST_KEYS, ServiceProcess, auth
from lifeline_testing.tracestore import service_env

INGEST_ONLY_KEY = "test-ingest-only"
KEYS = {**TEST_KEYS, INGEST_ONLY_KEY: {"tenant": "default", "scopes": ["ingest"]}}
SESSION, PERSON, INTENT = "s-explore", "p-explore", "pricing"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@dataclass
class ExplorerStack:
    procs: dict[str, ServiceProcess]
    snapshot_url: str

    @property
    def explorer(self) -> str:
        return self.procs["tracestore"].url + "/ui/"

    def url(self, name: str) -> str:
        return self.procs[name].url

    def kill(self) -> None:
        for proc in self.procs.values():
            proc.kill()


def start(database_url: str, bus_url: str, log_dir: Path) -> ExplorerStack:
    """Every process knows every other's URL before any starts, so they start at once."""
    names = ["ingest", "replay", "memory", "governance", "tracestore"]
    ports = {name: free_port() for name in names}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    snapshot_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    common = service_env(
        database_url, bus_url, ingest_url=urls["ingest"], replay_url=urls["replay"],
        memory_url=urls["memory"], governance_url=urls["governance"], snapshot_url=snapshot_url,
        service_api_key=TEST_API_KEY, api_keys=json.dumps(KEYS), cors_origins=urls["tracestore"],
        memory_min_sessions=1, memory_min_occurrences=1, memory_sweep_interval_s=0.5,
        governance_job_enabled="false", governance_routing_refresh_s=0.5,
        governance_announce_interval_s=0.5)
    procs = {name: ServiceProcess(f"lifeline_{name}", dict(common), port=ports[name], log_dir=log_dir)
             for name in names}
    stack = ExplorerStack(procs, snapshot_url)
    try:
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(lambda p: p.start(timeout=90), procs.values()))
    except Exception:
        stack.kill()
        raise
    return stack


def _turn(turn_id: int, role: str, text: str, acts: list[dict[str, Any]] | None = None,
          **payload: Any) -> dict[str, Any]:
    span = f"{turn_id:016x}"
    return {"event_type": "turn.recorded", "turn_id": turn_id, "person_id": PERSON,
            "traceparent": f"00-{TRACE_ID}-{span}-01",
            "payload": {"role": role, "text": text, "intent": INTENT, "acts": acts or [], **payload}}


def conversation() -> list[dict[str, Any]]:
    """Twelve events: stage and fact changes, graded errors, a retraction, a finish."""
    assistant = {"model_id": "gpt-a", "model_score": 8.0, "success": True, "latency_ms": 500}
    return [
        _turn(1, "user", "I would like to ask about veneers"),
        _turn(2, "assistant", "Happy to help", [{"op": "set_stage", "stage": "discovery"},
                                                {"op": "confirm_fact", "key": "service", "value": "veneers"}],
              **assistant),
        _turn(3, "user", "My budget is 2000"),
        _turn(4, "assistant", "Noted", [{"op": "confirm_fact", "key": "budget", "value": 2000},
                                        {"op": "error", "code": "price_objection_missed"}], **assistant),
        {"event_type": "turn.evaluated", "person_id": PERSON,
         "payload": {"turn_id": 4, "grader": "coach", "errors": ["price_objection_missed"], "score": 4.0}},
        _turn(5, "user", "Actually it is flexible"),
        _turn(6, "assistant", "Let us look at options", [{"op": "retract_fact", "key": "budget"},
                                                         {"op": "set_stage", "stage": "proposal"},
                                                         {"op": "pin", "id": "options", "text": "3 options"}],
              **assistant),
        _turn(7, "user", "What does it cost?"),
        _turn(8, "assistant", "From 900", [{"op": "error", "code": "price_objection_missed"}],
              **{**assistant, "model_id": "gpt-b"}),  # gpt-b answers while gpt-a is PRIMARY
        {"event_type": "turn.evaluated", "person_id": PERSON,
         "payload": {"turn_id": 8, "grader": "coach", "errors": ["price_objection_missed"], "score": 5.0}},
        _turn(9, "user", "Thanks"),
        {"event_type": "session.finished", "person_id": PERSON, "payload": {"reason": "completed"}},
    ]


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return dict(r.json())


def seed(stack: ExplorerStack) -> int:
    """Make gpt-a PRIMARY, record the conversation, then promote gpt-b; wait until the
    profile and the traces are there. Returns the session's last seq."""
    with httpx.Client(headers=auth(), timeout=30) as c:
        gov = stack.url("governance")
        for model in ("gpt-a", "gpt-b"):
            _ok(c.put(f"{gov}/v1/models/{model}", json={"display_name": model, "intents": {INTENT: {}}}))
        for to in ("CANDIDATE", "PRIMARY"):
            _ok(c.post(f"{gov}/v1/models/gpt-a/transition",
                       json={"intent": INTENT, "to_state": to, "reason": "e2e: first model"}))
        body = _ok(c.post(f"{stack.url('ingest')}/v1/sessions/{SESSION}/events",
                          json={"events": conversation()}))
        last = max(r["seq"] for r in body["results"])
        for to in ("CANDIDATE", "PRIMARY"):
            _ok(c.post(f"{gov}/v1/models/gpt-b/transition",
                       json={"intent": INTENT, "to_state": to, "reason": "e2e: promote gpt-b"}))
        _wait(c, f"{stack.url('memory')}/v1/persons/{PERSON}/profile", lambda b: bool(b.get("errors")))
        _wait(c, f"{stack.url('tracestore')}/replay/session/{PERSON}/{SESSION}",
              lambda b: len(b) >= last)
        return last


def _wait(c: httpx.Client, url: str, done: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        r = c.get(url)
        if r.status_code == 200 and done(r.json()):
            return
        last = f"{r.status_code} {r.text[:300]}"
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout}s: {last}")
