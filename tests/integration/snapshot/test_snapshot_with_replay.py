"""With the real replay service: the WAL view reads replay's checkpoint, and the CLI's
`state` and `replay` commands talk to replay."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from typer.testing import CliRunner

from lifeline_cli.main import app
from lifeline_testing.appends import append
from lifeline_testing.processes import TEST_API_KEY, auth
from lifeline_testing.replay_stack import replay_process
from lifeline_testing.snapshot_stack import SnapshotStack, snapshot_process
from lifeline_testing.waiting import eventually


async def test_wal_and_cli_with_a_running_replay(stack: SnapshotStack, tmp_path) -> None:
    """Replay's applied position shows per event in the WAL; `lifeline state`/`replay` print its states."""
    replay = replay_process(stack.database_url, stack.bus_url, stack.bus_url, stack.ingest.url,
                            log_dir=tmp_path)
    await asyncio.to_thread(replay.start)
    snapshot = snapshot_process(stack.database_url, stack.bus_url, stack.ingest.url, tmp_path,
                                replay_url=replay.url)
    try:
        await asyncio.to_thread(snapshot.start)
        session = f"rp-{uuid.uuid4().hex[:8]}"
        await append(stack.ingest.url, session, [
            {"event_type": "turn.recorded", "turn_id": t, "payload": {
                "role": "user", "text": f"t{t}", "acts": [{"op": "set_stage", "stage": f"stage-{t}"}]}}
            for t in range(1, 5)])
        async with httpx.AsyncClient(base_url=snapshot.url, headers=auth(), timeout=30) as c:
            async def all_applied() -> dict | None:
                body = (await c.get(f"/v1/sessions/{session}/wal")).json()
                done = all(e["applied"] == {"snapshot": True, "replay": True} for e in body["entries"])
                return body if done and len(body["entries"]) == 4 else None

            body = await eventually(all_applied, timeout=20, what="both projections applied all 4 events")
            dry = (await c.post(f"/v1/sessions/{session}/wal/reconcile")).json()
        assert body["projections"]["replay"] == {"status": "ok", "last_seq": 4}
        assert dry["plan"]["needed"] is False
        base = ["--api-key", TEST_API_KEY, "--replay-url", replay.url, "--snapshot-url", snapshot.url]
        state = CliRunner().invoke(app, [*base, "--json", "state", session])
        back = CliRunner().invoke(app, [*base, "--json", "replay", session, "--until-seq", "2"])
        human = CliRunner().invoke(app, [*base, "replay", session, "--until-seq", "3"])
        bad = CliRunner().invoke(app, [*base, "replay", session])
    finally:
        await asyncio.to_thread(snapshot.kill)
        await asyncio.to_thread(replay.kill)
    assert state.exit_code == 0, state.output
    assert orjson.loads(state.stdout)["state"]["stage"] == "stage-4"
    assert back.exit_code == 0 and orjson.loads(back.stdout)["state"]["stage"] == "stage-2"
    assert human.exit_code == 0 and f"{session} at seq 3" in human.stdout and "stage stage-3" in human.stdout
    assert bad.exit_code == 1 and "(422)" in bad.stderr and "until_seq" in bad.stderr
