"""Log retention without losing truth: `POST /v1/admin/wal/cleanup` and `/restore`.

Cleanup archives finished sessions idle for `days` into one gzip'd JSON-lines file per run
under `LIFELINE_WAL_ARCHIVE_DIR`, verifies the file by hash, and only then removes those
sessions from the hot log (retention.py says what qualifies and how an archive proves
itself). Restore puts an archive's sessions back exactly, verified by hash, and finds the
ones already back as `present`, so running it twice is harmless. Both are platform-wide
actions: the `operator` scope; both are recorded in the admin audit by the servicekit's
middleware (their paths are under `/admin/`).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends
from prometheus_client import Counter
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifeline_ingest import retention_store as rs
from lifeline_ingest.deps import Deps
from lifeline_ingest.retention import (
    ArchivedEvent,
    ArchiveInvalidError,
    SessionEntry,
    archive_name,
    cutoff,
    entry_for,
    group_events,
    manifest_line,
)
from lifeline_ingest.retention_archive import archive_path, read_verified, write_verified
from lifeline_servicekit import OPERATOR_SCOPE, Principal, ProblemError, require_scope

router = APIRouter(prefix="/v1/admin/wal", tags=["retention"])
log = structlog.get_logger("lifeline.ingest.retention")
SESSIONS = Counter("lifeline_ingest_wal_retention_sessions_total",
                   "Sessions archived and removed from the log, or restored, by outcome.", ["outcome"])
Operator = Annotated[Principal, Depends(require_scope(OPERATOR_SCOPE))]


class RetentionSettings(BaseSettings):
    """Where archives go and how much one run takes (LIFELINE_ prefix)."""

    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="ignore")
    wal_archive_dir: Path = Path(".lifeline/wal-archive")
    wal_cleanup_max_sessions: int = Field(1000, ge=1)


class CleanupRequest(BaseModel):
    days: float = Field(ge=0, le=36500, description="archive finished sessions idle longer than this")
    dry_run: bool = Field(True, description="only report what would be archived")
    tenant_id: str | None = Field(None, max_length=128, description="only this tenant (default: all)")
    max_sessions: int | None = Field(None, ge=1, le=100_000, description="at most this many in one run")


class RestoreRequest(BaseModel):
    archive: str = Field(max_length=128, description="the archive's file name, as cleanup reported it")


def _settings() -> RetentionSettings:
    return RetentionSettings()


@router.post("/cleanup")
async def cleanup(deps: Deps, principal: Operator, body: Annotated[CleanupRequest, Body()]) -> dict[str, Any]:
    """Archive, verify, then remove finished sessions idle more than `days` (dry run by default).

    One cleanup at a time across ingest processes (409 while another runs); a dry run never waits."""
    if body.dry_run:
        return await _select(deps, body, datetime.now(UTC))
    async with rs.exclusive_cleanup(deps.pool) as mine:
        if not mine:
            raise ProblemError(409, "Cleanup running", "another WAL cleanup is running; try again after it")
        now = datetime.now(UTC)
        report = await _select(deps, body, now)
        if report["sessions"]:
            await _archive_and_remove(deps, body, now, report)
    log.info("wal.cleanup", archive=report["archive"], removed=report["removed"], kept=len(report["kept"]))
    return report


async def _select(deps: Deps, body: CleanupRequest, now: datetime) -> dict[str, Any]:
    """The report of what qualifies (at most the run's limit; `more` if others do too)."""
    settings = _settings()
    before = cutoff(now, body.days)
    limit = min(body.max_sessions or settings.wal_cleanup_max_sessions, settings.wal_cleanup_max_sessions)
    found = await rs.find_candidates(deps.pool, body.tenant_id, before, limit + 1)
    chosen = found[:limit]
    return {"dry_run": body.dry_run, "cutoff": before.isoformat(), "more": len(found) > limit,
            "sessions": [{"tenant_id": c.tenant_id, "session_id": c.session_id, "events": c.events,
                          "last_recorded_at": c.last_recorded_at.isoformat()} for c in chosen],
            "events": sum(c.events for c in chosen), "archive": None, "removed": 0, "kept": []}


async def _archive_and_remove(deps: Deps, body: CleanupRequest, now: datetime,
                              report: dict[str, Any]) -> None:
    """Write and verify the archive, then remove each archived session; fills in `report`."""
    entries, events, report["kept"] = await _read_whole(deps, report["sessions"])
    if not entries:
        return
    name = archive_name(now, secrets.token_hex(4))
    path = archive_path(_settings().wal_archive_dir, name)
    try:
        manifest = manifest_line(entries, created_at=now, cutoff_at=cutoff(now, body.days), days=body.days)
        size = await asyncio.to_thread(write_verified, path, events, manifest)
    except ArchiveInvalidError as exc:
        raise ProblemError(500, "Archive failed verification", f"{exc}; nothing was removed") from exc
    report.update(archive=name, archive_path=str(path.resolve()), archive_bytes=size)
    for entry in entries:
        reason = await rs.remove_session(deps.pool, entry)
        if reason:
            report["kept"].append({"tenant_id": entry.tenant_id, "session_id": entry.session_id,
                                   "reason": reason})
        else:
            report["removed"] += 1
    SESSIONS.labels("archived").inc(report["removed"])


async def _read_whole(deps: Deps, chosen: list[dict[str, Any]]
                      ) -> tuple[list[SessionEntry], list[ArchivedEvent], list[dict[str, str]]]:
    """Each chosen session's entry and events; sessions not whole (or gone) are skipped."""
    entries: list[SessionEntry] = []
    events: list[ArchivedEvent] = []
    skipped: list[dict[str, str]] = []
    for c in chosen:
        tenant, session = c["tenant_id"], c["session_id"]
        read = await rs.read_session(deps.pool, tenant, session)
        try:
            if read is None:
                raise ValueError("gone from the log")
            entries.append(entry_for(read[0], read[1]))
        except ValueError as exc:
            skipped.append({"tenant_id": tenant, "session_id": session, "reason": str(exc)})
            continue
        events.extend(read[1])
    return entries, events, skipped


@router.post("/restore")
async def restore(deps: Deps, principal: Operator, body: Annotated[RestoreRequest, Body()]) -> dict[str, Any]:
    """Put an archive's sessions back in the log exactly (verified by hash); idempotent."""
    settings = _settings()
    try:
        path = archive_path(settings.wal_archive_dir, body.archive)
    except ArchiveInvalidError as exc:
        raise ProblemError(422, "Invalid archive name", str(exc)) from exc
    if not path.is_file():
        raise ProblemError(404, "Archive not found", f"no archive {body.archive} in the archive directory")
    try:
        entries, events = await asyncio.to_thread(read_verified, path)
    except ArchiveInvalidError as exc:
        raise ProblemError(422, "Archive failed verification", str(exc)) from exc
    grouped = group_events(events)
    outcome: dict[str, int] = {"restored": 0, "present": 0}
    conflicts: list[dict[str, str]] = []
    for entry in entries:
        try:
            outcome[await rs.restore_session(deps.pool, entry, grouped[entry.key])] += 1
        except rs.RestoreConflictError as exc:
            conflicts.append({"tenant_id": entry.tenant_id, "session_id": entry.session_id,
                              "reason": str(exc)})
    SESSIONS.labels("restored").inc(outcome["restored"])
    report = {"archive": body.archive, "sessions": len(entries), **outcome,
              "events": sum(e.events for e in entries), "conflicts": conflicts}
    log.info("wal.restore", **{k: v for k, v in report.items() if k != "conflicts"}, conflicts=len(conflicts))
    if conflicts:
        raise ProblemError(409, "Restore conflicts", f"{len(conflicts)} sessions not restored: the log holds "
                           "other events at their seqs", **report)
    return report
