"""The `lifeline` CLI (typer's CliRunner) against the real running snapshot service."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import orjson
from typer.testing import CliRunner, Result

from lifeline_cli.main import app
from lifeline_servers import free_port
from lifeline_snapshot.export.bundle import validate_bundle
from lifeline_testing.appends import append
from lifeline_testing.oracle import log_of
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.snapshot_stack import SnapshotStack, snapshot_rows
from lifeline_testing.waiting import eventually


def lifeline(stack: SnapshotStack, *args: str, key: str = TEST_API_KEY) -> Result:
    base = ["--snapshot-url", stack.snapshot.url, "--api-key", key,
            "--replay-url", f"http://127.0.0.1:{free_port()}"]
    return CliRunner().invoke(app, [*base, *args])


def turns(n: int) -> list[dict]:
    return [{"event_type": "turn.recorded", "turn_id": t, "person_id": "p-1",
             "payload": {"role": "user", "text": f"turn {t}, mail me at c{t}@example.com",
                         "acts": [{"op": "pin", "id": f"p{t}", "text": f"pin {t}"}]}}
            for t in range(1, n + 1)]


async def session_with(stack: SnapshotStack, n: int) -> str:
    session = f"cli-{uuid.uuid4().hex[:8]}"
    await append(stack.ingest.url, session, turns(n))
    return session


async def test_snapshot_commands_round_trip(stack: SnapshotStack) -> None:
    """create, list, restore and delete work, as tables for people and JSON for scripts."""
    session = await session_with(stack, 6)
    created = lifeline(stack, "--json", "snapshot", "create", session, "--label", "before")
    assert created.exit_code == 0, created.output
    snap = orjson.loads(created.stdout)
    assert snap["at_seq"] == 6 and snap["label"] == "before" and snap["created"] is True
    again = lifeline(stack, "snapshot", "create", session)
    assert again.exit_code == 0 and "unchanged, existing snapshot" in again.stdout
    listed = lifeline(stack, "--json", "snapshot", "list", session)
    assert [s["at_seq"] for s in orjson.loads(listed.stdout)["snapshots"]] == [6, 5]
    table = lifeline(stack, "snapshot", "list", session)
    assert table.exit_code == 0 and snap["snapshot_id"] in table.stdout and "before" in table.stdout
    restored = lifeline(stack, "snapshot", "restore", session, snap["snapshot_id"])
    assert restored.exit_code == 0 and "as seq 7" in restored.stdout
    assert (await log_of(stack.ingest.url, session))[-1].event_type == "session.restored"
    deleted = lifeline(stack, "snapshot", "delete", session, snap["snapshot_id"])
    assert deleted.exit_code == 0
    assert snap["snapshot_id"] not in [r["id"] for r in await snapshot_rows(stack.database_url, session)]


async def test_errors_print_the_problem_and_exit_non_zero(stack: SnapshotStack) -> None:
    """Service problems (404, 403) are printed with title, status and detail; exit status 1."""
    missing = lifeline(stack, "recap", "cli-nobody")
    assert missing.exit_code == 1
    assert "Session not found (404): no session 'cli-nobody' for this tenant" in missing.stderr
    session = await session_with(stack, 2)
    forbidden = lifeline(stack, "snapshot", "create", session, key="test-read-only")
    assert forbidden.exit_code == 1 and "(403)" in forbidden.stderr
    gone = lifeline(stack, "snapshot", "delete", session, "no-such-snapshot")
    assert gone.exit_code == 1 and "Snapshot not found (404)" in gone.stderr


async def test_recap_matches_the_api(stack: SnapshotStack) -> None:
    """`lifeline recap` prints the service's recap text."""
    session = await session_with(stack, 4)
    result = lifeline(stack, "recap", session, "--last-turns", "2")
    async with httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth()) as c:
        expected = (await c.get(f"/v1/sessions/{session}/recap", params={"lastTurns": 2})).json()["recap"]
    assert result.exit_code == 0 and result.stdout.strip() == expected


async def test_export_then_import_through_files(stack: SnapshotStack, tmp_path: Path) -> None:
    """export writes a valid redacted bundle; import creates a sandbox session from it."""
    session = await session_with(stack, 45)  # over 40 events: the streamed export path
    target = tmp_path / "bundle.json"
    exported = lifeline(stack, "export", session, "-o", str(target))
    assert exported.exit_code == 0, exported.output
    raw, events = validate_bundle(target.read_bytes())
    assert f"exported 45 events and {len(raw['snapshots'])} snapshots" in exported.stdout
    assert f"redacted: email {raw['redactions']['email']}" in exported.stdout
    assert len(events) == 45 and b"@example.com" not in target.read_bytes()
    imported = lifeline(stack, "--json", "import", str(target), "--preserve-turn-id")
    assert imported.exit_code == 0, imported.output
    body = orjson.loads(imported.stdout)
    assert body["session_id"].startswith("sandbox-") and body["events"] == 45
    assert [e.turn_id for e in await log_of(stack.ingest.url, body["session_id"])] == list(range(1, 46))
    target.write_bytes(target.read_bytes().replace(b"turn 1,", b"turn 9,"))
    tampered = lifeline(stack, "import", str(target))
    assert tampered.exit_code == 1 and "Invalid bundle (422)" in tampered.stderr


async def test_wal_list_and_reconcile(stack: SnapshotStack) -> None:
    """`wal list` shows published/applied per event; `wal reconcile` is a dry run unless --apply."""
    session = await session_with(stack, 3)

    async def applied() -> bool:
        body = orjson.loads(lifeline(stack, "--json", "wal", "list", session).stdout)
        return all(e["published"] and e["applied"]["snapshot"] for e in body["entries"])

    await eventually(applied, what="all 3 events published and applied")
    table = lifeline(stack, "wal", "list", session)
    assert table.exit_code == 0 and "turn.recorded" in table.stdout and "replay: unreachable" in table.stdout
    dry = lifeline(stack, "wal", "reconcile", session)
    assert dry.exit_code == 0 and "nothing to reconcile" in dry.stdout
    applied_run = lifeline(stack, "--json", "wal", "reconcile", session, "--apply")
    assert applied_run.exit_code == 0 and orjson.loads(applied_run.stdout)["dry_run"] is False


async def test_replay_and_state_report_an_unreachable_replay_service(stack: SnapshotStack) -> None:
    """replay and state call the replay service; when it is away they say so and exit 1."""
    for args in (["replay", "s-1", "--until-seq", "3"], ["state", "s-1"]):
        result = lifeline(stack, *args)
        assert result.exit_code == 1 and "cannot reach http://127.0.0.1:" in result.stderr
