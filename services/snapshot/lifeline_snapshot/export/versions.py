"""Versions in the export bundle, pure: what is exported, and which ones an import restores.

A bundle of format version 2 carries a `versions` section after `snapshots`: one item per
version of the session (oldest first) with its `message`, `tags` and `versioned_at`
(redacted like everything else), its `at_seq`, and the `content_hash` of its snapshot as
exported (redacted and re-hashed, so it equals that snapshot's in the `snapshots` section).

An import restores a version only if it still describes the bundle's history: the state
folded from the bundle's own events up to `at_seq` must hash to its `content_hash`. Then
the version is recreated on the imported session's snapshot at the corresponding seq (the
same seq, unless the import left out a `session.branched` before it). Otherwise it is
reported as not restored, with the reason (typically: redaction changed text the state
derives from differently than the events', or the log was exported without its start).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifeline_events import Event, SessionState, apply, content_hash
from lifeline_events.redaction import redact


class BundleVersion(BaseModel):
    """One version as a bundle carries it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version_id: str = Field(min_length=1)
    at_seq: int = Field(ge=0)
    content_hash: str = Field(min_length=1)
    message: str
    tags: tuple[str, ...] = ()
    versioned_at: datetime


def export_item(version_id: str, at_seq: int, exported_hash: str, message: str, tags: Iterable[str],
                versioned_at: datetime, counts: Counter[str]) -> dict[str, Any]:
    """A version as exported: its text redacted, its hash the exported snapshot's."""
    return {"version_id": version_id, "at_seq": at_seq, "content_hash": exported_hash,
            "message": redact(message, counts), "tags": [redact(t, counts) for t in tags],
            "versioned_at": versioned_at.isoformat()}


def parse_items(items: Sequence[Any]) -> tuple[list[BundleVersion], list[dict[str, str]]]:
    """The section's items as versions, and an error per field that is not one."""
    parsed: list[BundleVersion] = []
    errors: list[dict[str, str]] = []
    for i, item in enumerate(items):
        try:
            parsed.append(BundleVersion.model_validate(item))
        except ValidationError as exc:
            errors.extend({"field": f"versions[{i}]." + ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
                          for e in exc.errors())
    return parsed, errors


def check(versions: Sequence[BundleVersion],
          events: Sequence[Event]) -> tuple[list[BundleVersion], list[dict[str, Any]]]:
    """(the versions that match the bundle's history, the others with why), in at_seq order.

    One pass of the fold over `events` (in seq order, as a valid bundle has them)."""
    restorable: list[BundleVersion] = []
    refused: list[dict[str, Any]] = []
    last = events[-1].seq if events else 0
    state, i = SessionState(), 0
    for version in sorted(versions, key=lambda v: (v.at_seq, v.version_id)):
        while i < len(events) and events[i].seq <= version.at_seq:
            state, i = apply(state, events[i]), i + 1
        if version.at_seq > last:
            refused.append(not_restored(version, f"the bundle's events end at seq {last}, before the "
                                             f"version's at_seq {version.at_seq}"))
        elif content_hash(state.model_dump(mode="json")) != version.content_hash:
            refused.append(not_restored(version, f"the state folded from the bundle's events up to seq "
                                             f"{version.at_seq} does not match the version's content_hash"))
        else:
            restorable.append(version)
    return restorable, refused


def not_restored(version: BundleVersion, reason: str) -> dict[str, Any]:
    """How the import answer reports a version it did not recreate."""
    return {"source_version_id": version.version_id, "at_seq": version.at_seq, "message": version.message,
            "tags": list(version.tags), "reason": reason}


def target_seq(imported_seqs: Sequence[int], assigned: Sequence[int], at_seq: int) -> int:
    """The imported session's seq that corresponds to the bundle's `at_seq`: the seq ingest
    gave the last imported event at or below it (`imported_seqs`: the bundle seqs of the
    events imported, in order; `assigned`: the imported session's seq of each); 0 if none."""
    n = bisect_right(imported_seqs, at_seq)
    return assigned[n - 1] if n else 0
