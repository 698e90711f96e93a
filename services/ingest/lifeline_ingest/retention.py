"""Pure: what a WAL cleanup archives, and how an archive proves it holds the truth.

A cleanup takes FINISHED sessions (a `session.finished` in the log) whose last event was
recorded more than N days ago and whose every event is published, writes them to an
archive, verifies the archive and only then removes them from the hot log. The archive is
gzip'd JSON lines: one line per event (`kind: event`), then one manifest line
(`kind: manifest`) naming, per session, its event count, seq range, session row and the
SHA-256 of its canonical bytes — each envelope as canonical JSON (sorted keys, no
whitespace), in seq order, joined by newlines. The same digest is taken over the log
before removal, over the file after writing, and over the log again after a restore.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from lifeline_common.errors import InvalidInputError
from lifeline_events.canonical import canonical_json
from lifeline_ingest.errors import IngestError

ARCHIVE_FORMAT = "lifeline.wal-archive.v1"
ARCHIVE_NAME = re.compile(r"^wal-\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl\.gz$")
"""Archive file names: a restore names a file inside the archive directory, nothing else."""


class ArchiveInvalidError(IngestError, InvalidInputError):
    """An archive whose events do not match its manifest (or that has no manifest)."""


@dataclass(frozen=True)
class Candidate:
    """A finished, fully published session idle since before the cutoff."""

    tenant_id: str
    session_id: str
    last_seq: int
    events: int
    last_recorded_at: datetime


@dataclass(frozen=True)
class ArchivedEvent:
    """One row of the log as the archive keeps it: the envelope and its publication time."""

    tenant_id: str
    session_id: str
    seq: int
    published_at: str | None
    envelope: dict[str, Any]

    def line(self) -> dict[str, Any]:
        return {"kind": "event", **asdict(self)}


@dataclass(frozen=True)
class SessionEntry:
    """A session's manifest entry: enough to verify its events and recreate its session row."""

    tenant_id: str
    session_id: str
    events: int
    first_seq: int
    last_seq: int
    sha256: str
    person_id: str | None
    created_at: str
    updated_at: str

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant_id, self.session_id


def cutoff(now: datetime, days: float) -> datetime:
    """Sessions whose last event was recorded before this instant are old enough to archive."""
    return now - timedelta(days=days)


def archive_name(now: datetime, token: str) -> str:
    """`wal-<UTC time>-<8 hex>.jsonl.gz`: sortable by time, unique per run."""
    return f"wal-{now.strftime('%Y%m%dT%H%M%SZ')}-{token[:8]}.jsonl.gz"


def canonical_bytes(envelopes: Iterable[Mapping[str, Any]]) -> bytes:
    return b"\n".join(canonical_json(e) for e in envelopes)


def digest(envelopes: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 hex of a session's canonical bytes (envelopes in seq order)."""
    return hashlib.sha256(canonical_bytes(envelopes)).hexdigest()


def is_gapless(seqs: Sequence[int]) -> bool:
    """Seq runs 1, 2, 3 … with no gap and no repeat."""
    return list(seqs) == list(range(1, len(seqs) + 1))


def entry_for(session: Mapping[str, Any], events: Sequence[ArchivedEvent]) -> SessionEntry:
    """The manifest entry of a session read from the log (events in seq order).

    A ValueError if the log itself is not whole (a gap, or `last_seq` ahead of the events):
    such a session is left in place for a repair rather than archived half.
    """
    seqs = [e.seq for e in events]
    if not events or not is_gapless(seqs) or seqs[-1] != session["last_seq"]:
        raise ValueError(f"{session['session_id']}: log not whole (seq {seqs[:1]}..{seqs[-1:]}, "
                         f"last_seq {session['last_seq']})")
    return SessionEntry(
        tenant_id=session["tenant_id"], session_id=session["session_id"], events=len(events),
        first_seq=seqs[0], last_seq=seqs[-1], sha256=digest(e.envelope for e in events),
        person_id=session["person_id"], created_at=session["created_at"], updated_at=session["updated_at"])


def manifest_line(entries: Sequence[SessionEntry], *, created_at: datetime, cutoff_at: datetime,
                  days: float) -> dict[str, Any]:
    return {"kind": "manifest", "format": ARCHIVE_FORMAT, "created_at": created_at.isoformat(),
            "cutoff": cutoff_at.isoformat(), "days": days, "events": sum(e.events for e in entries),
            "sessions": [asdict(e) for e in entries]}


def entries_of(manifest: Mapping[str, Any]) -> list[SessionEntry]:
    if manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveInvalidError(f"not a {ARCHIVE_FORMAT} manifest: {manifest.get('format')!r}")
    return [SessionEntry(**s) for s in manifest["sessions"]]


def group_events(events: Iterable[ArchivedEvent]) -> dict[tuple[str, str], list[ArchivedEvent]]:
    grouped: dict[tuple[str, str], list[ArchivedEvent]] = defaultdict(list)
    for e in events:
        grouped[(e.tenant_id, e.session_id)].append(e)
    for items in grouped.values():
        items.sort(key=lambda e: e.seq)
    return dict(grouped)


def verify(entries: Sequence[SessionEntry], events: Iterable[ArchivedEvent]) -> list[str]:
    """Every way the events differ from the manifest (empty: the archive is whole).

    A session is archived whole, so its events must run 1..last_seq: restoring anything else
    would leave a gap in the log."""
    grouped = group_events(events)
    problems = [f"{t}/{s}: events not in the manifest" for t, s in grouped.keys() - {e.key for e in entries}]
    for entry in entries:
        items = grouped.get(entry.key, [])
        seqs = [e.seq for e in items]
        if entry.first_seq != 1 or seqs != list(range(1, entry.last_seq + 1)) or len(items) != entry.events:
            problems.append(f"{entry.tenant_id}/{entry.session_id}: {len(items)} events, "
                            f"expected {entry.events} (seq {entry.first_seq}..{entry.last_seq})")
        elif digest(e.envelope for e in items) != entry.sha256:
            problems.append(f"{entry.tenant_id}/{entry.session_id}: SHA-256 differs from the manifest")
    return problems
