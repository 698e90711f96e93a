"""A NUL character in a non-event JSON body field is a 422 naming the field, in every service.

PostgreSQL cannot store a NUL; servicekit refuses one in any declared body before the
route runs (`lifeline_servicekit.nul`). Events are checked by `lifeline_events.storable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lifeline_testing.processes import ServiceProcess, auth, services_without_peers

NUL = "\u0000"
# service → (method, path, body with a NUL in one field, the field's name)
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "ingest": ("POST", "/v1/admin/wal/repair", {"session_id": f"s{NUL}1"}, "session_id"),
    "replay": ("POST", "/v1/sessions/s-1/replay", {"at": f"2026-01-01{NUL}"}, "at"),
    "snapshot": ("POST", "/v1/sessions/s-1/snapshots", {"label": f"before{NUL}lunch"}, "label"),
    "memory": ("POST", "/v1/persons/p-1/suppressions",
               {"kind": "fact", "code": "c", "reason": f"wrong{NUL}"}, "reason"),
    "governance": ("POST", "/v1/models/m-1/transition",
                   {"intent": "pricing", "to_state": "shadow", "reason": f"why{NUL}"}, "reason"),
    "tracestore": ("POST", "/replay/0190f5a6-0000-7000-8000-000000000001",
                   {"trace_id": NUL}, "trace_id"),
}


@pytest.fixture(scope="module")
def running(module_database: str, module_bus: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    """Every service with its peers unreachable: what is checked here answers before any peer.
    Shared by the module's tests (six processes take ~20 s to start): none of them writes."""
    with services_without_peers(CASES, module_database, module_bus, tmp_path_factory.mktemp("nul")) as procs:
        yield procs


def test_a_nul_in_a_body_field_is_a_422_naming_it_in_every_service(
        running: dict[str, ServiceProcess]) -> None:
    """Each service answers problem+json 422 whose errors name the field holding the NUL."""
    wrong: list[str] = []
    with httpx.Client(timeout=30) as client:
        for service, (method, path, body, field) in CASES.items():
            answer = client.request(method, running[service].url + path, json=body, headers=auth())
            named = [e["field"] for e in answer.json().get("errors", [])] if answer.status_code == 422 else []
            if (answer.status_code, answer.headers.get("content-type"), named) != (
                    422, "application/problem+json", [field]):
                wrong.append(f"{service}: {answer.status_code} {answer.text[:200]}")
    assert wrong == []


def test_a_nul_from_an_anonymous_caller_is_still_a_401(running: dict[str, ServiceProcess]) -> None:
    """Authentication comes before the NUL check."""
    method, path, body, _ = CASES["snapshot"]
    answer = httpx.request(method, running["snapshot"].url + path, json=body, timeout=30)
    assert answer.status_code == 401


def test_an_escaped_backslash_before_u0000_is_not_a_nul(running: dict[str, ServiceProcess]) -> None:
    """The text `\\u0000` (a backslash, then u0000) is ordinary text: no 422 for it."""
    answer = httpx.post(running["snapshot"].url + "/v1/sessions/s-none/snapshots",
                        json={"label": "\\u0000"}, headers=auth(), timeout=30)
    assert answer.status_code == 404  # the session does not exist; the label was fine
