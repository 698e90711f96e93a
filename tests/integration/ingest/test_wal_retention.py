"""Log retention without losing truth: `lifeline wal cleanup` archives, verifies, then removes;
`lifeline wal restore` puts back exactly (issue 11, seed 001's WAL cleanup)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import asyncpg
import httpx
import orjson
from typer.testing import CliRunner

from lifeline_cli.main import app
from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import TENANT_ADMIN_KEY, TEST_API_KEY, auth

OLD = ["old-1", "old-2", "old-open", "old-unpublished", "new-finished"]
FINISHED = {"event_type": "session.finished", "payload": {"reason": "done"}}
_ROWS = ("SELECT tenant_id, session_id, seq, event_id, event_type, schema_version, turn_id, person_id, "
         "occurred_at, recorded_at, traceparent, envelope::text AS envelope, o.published_at "
         "FROM ingest.events e LEFT JOIN ingest.outbox o ON o.id = e.id "
         "WHERE session_id = ANY($1::text[]) ORDER BY tenant_id, session_id, seq")

_BACKDATE = """
UPDATE ingest.events SET recorded_at = recorded_at - interval '40 days',
       envelope = jsonb_set(envelope, '{recorded_at}', to_jsonb(to_char(
           (recorded_at - interval '40 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
WHERE session_id <> 'new-finished'
"""


async def _seed(ingest_url: str, database_url: str) -> None:
    """Five sessions; all but `new-finished` idle for 40 days; only `old-1`/`old-2` qualify."""
    await append(ingest_url, "old-1", [turn(1, "hi"), turn(2, "mail me at a@b.example"), FINISHED])
    await append(ingest_url, "old-2", [turn(1), FINISHED], key="test-other-tenant")
    await append(ingest_url, "old-open", [turn(1)])
    await append(ingest_url, "old-unpublished", [turn(1), FINISHED])
    await append(ingest_url, "new-finished", [turn(1), FINISHED])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE ingest.outbox o SET published_at = now() FROM ingest.events e "
                           "WHERE e.id = o.id AND e.session_id <> 'old-unpublished'")
        await conn.execute(_BACKDATE)
        await conn.execute("UPDATE ingest.sessions SET updated_at = updated_at - interval '40 days' "
                           "WHERE session_id <> 'new-finished'")
    finally:
        await conn.close()


async def _rows(database_url: str, sessions: list[str]) -> list[dict]:
    conn = await asyncpg.connect(database_url)
    try:
        return [dict(r) for r in await conn.fetch(_ROWS, sessions)]
    finally:
        await conn.close()


def _lines_of(archive: Path) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(archive.read_bytes()).splitlines()]


def _forge(original: Path, forged: Path) -> Path:
    """A copy with one event's text changed and its manifest left as it was."""
    text = gzip.decompress(original.read_bytes()).replace(b"a@b.example", b"c@d.example")
    forged.write_bytes(gzip.compress(text))
    return forged


def _cli(ingest_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--api-key", TEST_API_KEY, "--ingest-url", ingest_url, *args])
    return result.exit_code, result.output


async def test_cleanup_archives_verifies_removes_and_restore_puts_back_exactly(
        fresh_database, redis_url, start_ingest, tmp_path: Path) -> None:
    """Dry run reports and changes nothing; cleanup takes only finished, published, idle sessions,
    writes a verified archive, removes them; restore re-inserts every row exactly; twice is harmless."""
    archives = tmp_path / "archive"
    ingest = start_ingest(fresh_database, redis_url, relay_enabled="false", wal_archive_dir=str(archives))
    await _seed(ingest.url, fresh_database)
    before = await _rows(fresh_database, OLD)

    code, out = _cli(ingest.url, "--json", "wal", "cleanup", "--days", "30", "--dry-run")
    assert code == 0, out
    dry = orjson.loads(out)
    assert [(s["tenant_id"], s["session_id"], s["events"]) for s in dry["sessions"]] == [
        ("default", "old-1", 3), ("other", "old-2", 2)]
    assert dry["archive"] is None and await _rows(fresh_database, OLD) == before

    code, out = _cli(ingest.url, "--json", "wal", "cleanup", "--days", "30")
    assert code == 0, out
    done = orjson.loads(out)
    assert done["removed"] == 2 and done["kept"] == [] and done["events"] == 5
    archive = Path(done["archive_path"])
    assert archive.parent == archives.resolve()
    lines = _lines_of(archive)
    assert [ln["kind"] for ln in lines] == ["event"] * 5 + ["manifest"]
    assert [(s["session_id"], s["events"], s["last_seq"]) for s in lines[-1]["sessions"]] == [
        ("old-1", 3, 3), ("old-2", 2, 2)]
    after = await _rows(fresh_database, OLD)
    assert {r["session_id"] for r in after} == {"old-open", "old-unpublished", "new-finished"}
    assert after == [r for r in before if r["session_id"] not in ("old-1", "old-2")]
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        assert (await c.get("/v1/sessions/old-1", headers=auth())).status_code == 404
        audit = (await c.get("/v1/admin/audit", headers=auth())).json()["entries"]
        assert ("POST", "/v1/admin/wal/cleanup", 200) in [
            (e["method"], e["path"], e["status"]) for e in audit]
        refused = await c.post("/v1/admin/wal/cleanup", json={"days": 30, "dry_run": False},
                               headers=auth(TENANT_ADMIN_KEY))
        assert refused.status_code == 403

    code, out = _cli(ingest.url, "--json", "wal", "restore", str(archive))
    assert code == 0, out
    assert orjson.loads(out) | {"conflicts": []} == {
        "archive": archive.name, "sessions": 2, "restored": 2, "present": 0, "events": 5, "conflicts": []}
    assert await _rows(fresh_database, OLD) == before
    code, out = _cli(ingest.url, "wal", "restore", archive.name)
    assert code == 0 and "0 sessions restored, 2 already present" in out, out
    assert await _rows(fresh_database, OLD) == before
    assert (await append(ingest.url, "old-1", [turn(3)]))[0]["seq"] == 4  # the log goes on gapless


async def test_a_tampered_archive_is_refused_and_restores_nothing(
        fresh_database, redis_url, start_ingest, tmp_path: Path) -> None:
    """A second cleanup while one runs is a 409 (a dry run still answers); an archive whose event
    no longer hashes to its manifest answers 422 and the log stays as it was."""
    archives = tmp_path / "archive"
    ingest = start_ingest(fresh_database, redis_url, relay_enabled="false", wal_archive_dir=str(archives))
    await _seed(ingest.url, fresh_database)
    holder = await asyncpg.connect(fresh_database)  # another cleanup running (another ingest process)
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtext('lifeline:wal-cleanup'))")
        busy = _cli(ingest.url, "wal", "cleanup", "--days", "30")
        dry = _cli(ingest.url, "wal", "cleanup", "--days", "30", "--dry-run")
    finally:
        await holder.close()
    assert busy[0] == 1 and "(409)" in busy[1] and dry[0] == 0, (busy, dry)
    code, out = _cli(ingest.url, "--json", "wal", "cleanup", "--days", "30")
    assert code == 0, out
    original = Path(orjson.loads(out)["archive_path"])
    forged = _forge(original, archives / "wal-20000101T000000Z-deadbeef.jsonl.gz")
    code, out = _cli(ingest.url, "wal", "restore", forged.name)
    assert code == 1 and "(422)" in out and "SHA-256 differs" in out, out
    assert {r["session_id"] for r in await _rows(fresh_database, OLD)} == {
        "old-open", "old-unpublished", "new-finished"}
    shutil.copy(original, archives / "wal-20000101T000000Z-0000beef.jsonl.gz")
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        escape = await c.post("/v1/admin/wal/restore", json={"archive": "../../etc/passwd"}, headers=auth())
        missing = await c.post("/v1/admin/wal/restore", headers=auth(),
                               json={"archive": "wal-20000101T000000Z-00000000.jsonl.gz"})
        copied = await c.post("/v1/admin/wal/restore", headers=auth(),
                              json={"archive": "wal-20000101T000000Z-0000beef.jsonl.gz"})
    assert (escape.status_code, missing.status_code, copied.status_code) == (422, 404, 200)
