"""`lifeline models|route|promote|quarantine|audit` against a real governance process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from lifeline_testing.processes import TEST_API_KEY

from .helpers import client, register, start_stack


def cli(url: str, *args: str) -> Any:
    env = {**os.environ, "LIFELINE_GOVERNANCE_URL": url, "LIFELINE_API_KEY": TEST_API_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "lifeline_cli.main", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_cli_promotes_routes_quarantines_and_audits(fresh_database, redis_url, procs) -> None:
    """A hand promotion and a quarantine through the CLI land in the audit and in routing."""
    _, gov = start_stack(procs, fresh_database, redis_url)
    async with client(gov) as c:
        await register(c, "gpt-a", "pricing")
        await register(c, "gpt-b", "pricing")
    cli(gov.url, "promote", "gpt-a", "--intent", "pricing", "--reason", "first", "--to", "CANDIDATE")
    cli(gov.url, "promote", "gpt-a", "--intent", "pricing", "--reason", "go live")
    cli(gov.url, "promote", "gpt-b", "--intent", "pricing", "--reason", "try", "--to", "CANDIDATE")
    assert cli(gov.url, "route", "pricing")["model_id"] == "gpt-a"
    done = cli(gov.url, "quarantine", "gpt-a", "--intent", "pricing", "--reason", "OPS-1 bad answers")
    assert done["decision"]["to_state"] == "QUARANTINED"
    states = {m["model_id"]: m["placements"][0]["state"] for m in cli(gov.url, "models")["models"]}
    assert states == {"gpt-a": "QUARANTINED", "gpt-b": "CANDIDATE"}
    reasons = [d["reason"] for d in cli(gov.url, "audit", "--intent", "pricing")["decisions"]]
    assert "OPS-1 bad answers" in reasons and "go live" in reasons
