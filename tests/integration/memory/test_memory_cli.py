"""`lifeline profile|consolidate|forget` (typer's CliRunner) against a real memory service."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner, Result

from lifeline_cli.main import app
from lifeline_testing.appends import append
from lifeline_testing.processes import TEST_API_KEY

from .helpers import coach_session, get, start_memory


def lifeline(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> Result:
    monkeypatch.setenv("LIFELINE_MEMORY_URL", url)
    return CliRunner().invoke(app, ["--api-key", TEST_API_KEY, *args])


async def test_profile_explain_consolidate_forget(fresh_database, redis_url, procs, monkeypatch) -> None:
    """Tables for people, JSON for scripts, the service's problem on errors (exit 1)."""
    ingest = procs.ingest(fresh_database, redis_url)
    memory = start_memory(procs, fresh_database, redis_url, ingest)
    await append(ingest.url, "s-1", coach_session("p-c", 0, ["late", "late", "late"], contact="mail"))
    assert (await get(memory.url, "/v1/persons/p-c/profile", after_session="s-1")).status_code == 200
    shown = lifeline(monkeypatch, memory.url, "profile", "p-c")
    assert shown.exit_code == 0, shown.output
    assert "late" in shown.stdout and "profile v1" in shown.stdout and "preferred_contact" in shown.stdout
    as_json = lifeline(monkeypatch, memory.url, "--json", "profile", "p-c")
    assert orjson.loads(as_json.stdout)["top_errors"] == ["late"]
    explained = lifeline(monkeypatch, memory.url, "--json", "profile", "explain", "p-c", "--kind", "error",
                         "--code", "late")
    assert explained.exit_code == 0 and len(orjson.loads(explained.stdout)["evidence"]) == 6
    again = lifeline(monkeypatch, memory.url, "consolidate", "p-c", "--session", "s-1")
    assert again.exit_code == 0 and "unchanged at version 1" in again.stdout
    forgot = lifeline(monkeypatch, memory.url, "forget", "p-c", "--yes", "--reason", "asked")
    assert forgot.exit_code == 0 and "forgot p-c" in forgot.stdout
    gone = lifeline(monkeypatch, memory.url, "profile", "p-c")
    assert gone.exit_code == 1 and "410" in gone.output
