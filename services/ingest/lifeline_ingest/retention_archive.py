"""WAL archive files: written whole or not at all, read back and verified.

A file is written under a temporary name, flushed to disk (file and directory), then
renamed, so an archive that exists is complete. `write_verified` reads the file back and
checks every session against the manifest before returning: only then may the log lose
those sessions.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from lifeline_ingest.retention import (
    ARCHIVE_NAME,
    ArchivedEvent,
    ArchiveInvalidError,
    SessionEntry,
    entries_of,
    verify,
)


def archive_path(directory: Path, name: str) -> Path:
    """The file `name` inside `directory`; refuses anything that is not an archive's name."""
    if not ARCHIVE_NAME.match(name):
        raise ArchiveInvalidError(f"not an archive name: {name!r} (expected wal-<time>-<id>.jsonl.gz)")
    return directory / name


def _write(path: Path, events: Sequence[ArchivedEvent], manifest: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for event in events:
                gz.write(orjson.dumps(event.line()) + b"\n")
            gz.write(orjson.dumps(manifest) + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    tmp.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_archive(path: Path) -> tuple[dict[str, Any], list[ArchivedEvent]]:
    """The manifest and the events of an archive file (ArchiveInvalidError if unreadable)."""
    manifest: dict[str, Any] | None = None
    events: list[ArchivedEvent] = []
    try:
        with gzip.open(path, "rb") as gz:
            for raw in gz:
                line = orjson.loads(raw)
                kind = line.pop("kind", None)
                if kind == "manifest":
                    manifest = line
                elif kind == "event":
                    events.append(ArchivedEvent(**line))
                else:
                    raise ArchiveInvalidError(f"{path.name}: unknown line kind {kind!r}")
    except (OSError, EOFError, orjson.JSONDecodeError, TypeError) as exc:
        raise ArchiveInvalidError(f"{path.name}: unreadable ({exc})") from exc
    if manifest is None:
        raise ArchiveInvalidError(f"{path.name}: no manifest (a truncated archive?)")
    return manifest, events


def read_verified(path: Path) -> tuple[list[SessionEntry], list[ArchivedEvent]]:
    """The archive's entries and events, after checking every session's count, seq and hash."""
    manifest, events = read_archive(path)
    entries = entries_of(manifest)
    problems = verify(entries, events)
    if problems:
        raise ArchiveInvalidError(f"{path.name} failed verification: " + "; ".join(problems[:5]))
    return entries, events


def write_verified(path: Path, events: Sequence[ArchivedEvent], manifest: dict[str, Any]) -> int:
    """Write the archive, read it back and verify it against `manifest`; its size in bytes.

    On a failed verification the file is removed and ArchiveInvalidError raised.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, events, manifest)
    try:
        read_back, _ = read_verified(path)
        if read_back != entries_of(manifest):
            raise ArchiveInvalidError(f"{path.name}: the manifest read back differs from the one written")
    except ArchiveInvalidError:
        path.unlink(missing_ok=True)
        raise
    return path.stat().st_size
