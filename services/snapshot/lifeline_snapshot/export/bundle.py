"""The export bundle: one JSON document with a session's events, snapshots and profile.

Shape (keys in this order, so it can be streamed and hashed on the way)::

    {"format": "lifeline.session-export", "version": 2, "exported_at": …,
     "tenant_id": …, "session_id": …, "last_seq": n,
     "events": [...], "snapshots": [...], "versions": [...], "profile": {...} | null,
     "redactions": {"api_key": 0, "email": 2, …},
     "hashes": {"events": sha256, "snapshots": …, "versions": …, "profile": …}}

Each section's hash is SHA-256 over its items' canonical JSON, one per line, so a
tampered or truncated bundle is refused on import. Redaction happens before hashing;
hashes inside the data that redaction invalidates (snapshot states, restored
states) are recomputed so that they still verify. Pure: no I/O.

Version 2 added `versions` (export/versions.py) and its hash, both required in a version 2
bundle. A version 1 bundle (no versions) stays importable: it is checked as it was
written, and anything under a `versions` key there, covered by no hash, is ignored.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifeline_events import Event, EventValidationError, content_hash
from lifeline_events.redaction import redact
from lifeline_snapshot.errors import BundleError
from lifeline_snapshot.export import versions as bundle_versions
from lifeline_snapshot.export.versions import BundleVersion

FORMAT = "lifeline.session-export"
VERSION = 2
SECTIONS = ("events", "snapshots", "versions", "profile")
_SECTIONS_OF = {1: ("events", "snapshots", "profile"), 2: SECTIONS}
_SKIPPED_ON_IMPORT = {"event_id", "seq", "recorded_at", "tenant_id", "session_id", "traceparent"}
NOT_IMPORTED = frozenset({"session.branched"})
"""A sandbox is a flat copy, not a branch (only ingest's branch route writes this event)."""


def canonical(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


class SectionHasher:
    """SHA-256 over canonical items, one per line; the same on export and import."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, item: Any) -> bytes:
        data = canonical(item)
        self._h.update(data + b"\n")
        return data

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def section_hash(items: Iterable[Any]) -> str:
    hasher = SectionHasher()
    for item in items:
        hasher.add(item)
    return hasher.hexdigest()


def redact_event(raw: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    """An event as stored, with its payload and person id redacted."""
    out = dict(raw)
    out["payload"] = redact(raw.get("payload", {}), counts)
    out["person_id"] = redact(raw.get("person_id"), counts, "person_id")
    if raw.get("event_type") == "session.restored" and isinstance(out["payload"].get("state"), dict):
        out["payload"]["content_hash"] = content_hash(out["payload"]["state"])
    return out


def redact_snapshot(snapshot: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    """A snapshot summary with state, redacted and re-hashed."""
    out = dict(snapshot)
    out["label"] = redact(snapshot.get("label"), counts)
    out["state"] = redact(snapshot["state"], counts)
    out["content_hash"] = content_hash(out["state"])
    return out


def header(*, exported_at: str, tenant_id: str, session_id: str, last_seq: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at,
            "tenant_id": tenant_id, "session_id": session_id, "last_seq": last_seq}


class _Hashes(BaseModel):
    events: str
    snapshots: str
    profile: str
    versions: str | None = None
    """Required in a version 2 bundle (checked with the others)."""


class _Bundle(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["lifeline.session-export"]
    version: Literal[1, 2]
    session_id: str
    events: list[dict[str, Any]] = Field(min_length=1)
    snapshots: list[dict[str, Any]] = Field(default_factory=list)
    versions: list[Any] = Field(default_factory=list)
    profile: dict[str, Any] | None = None
    hashes: _Hashes


def _err(field: str, msg: str) -> dict[str, str]:
    return {"field": field, "msg": msg}


def _parse_events(bundle: _Bundle) -> tuple[list[Event], list[dict[str, str]]]:
    events: list[Event] = []
    errors: list[dict[str, str]] = []
    last = 0
    for i, raw in enumerate(bundle.events):
        try:
            event = Event.from_json(raw)
        except EventValidationError as exc:
            errors.extend(_err(f"events[{i}].{e.get('loc', '')}".rstrip("."), str(e.get("msg", "")))
                          for e in exc.errors)
            continue
        if event.session_id != bundle.session_id:
            errors.append(_err(f"events[{i}].session_id",
                               f"{event.session_id!r} is not the bundle's session"))
        if event.seq <= last:
            errors.append(_err(f"events[{i}].seq", f"seq {event.seq} is not after {last}"))
        last = event.seq
        events.append(event)
    return events, errors


def _check_hashes(bundle: _Bundle) -> list[dict[str, str]]:
    errors = []
    actual = {"events": section_hash(bundle.events), "snapshots": section_hash(bundle.snapshots),
              "versions": section_hash(bundle.versions), "profile": section_hash([bundle.profile])}
    for name in _SECTIONS_OF[bundle.version]:
        given = getattr(bundle.hashes, name)
        if given is None:
            errors.append(_err(f"hashes.{name}", f"required in a version {bundle.version} bundle"))
        elif given != actual[name]:
            errors.append(_err(f"hashes.{name}", "does not match the content (tampered or truncated)"))
    for i, snap in enumerate(bundle.snapshots):
        state = snap.get("state")
        if not isinstance(state, dict) or snap.get("content_hash") != content_hash(state):
            errors.append(_err(f"snapshots[{i}].content_hash", "does not match the snapshot's state"))
    return errors


def validate_bundle(body: bytes) -> tuple[dict[str, Any], list[Event]]:
    """Parse and check a JSON bundle: schema, every event, every hash. Raises BundleError."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BundleError([_err("body", f"not JSON: {exc}")]) from None
    return validate_document(raw)


def validate_document(raw: Any) -> tuple[dict[str, Any], list[Event]]:
    """Check a bundle already parsed (from JSON or MessagePack). Raises BundleError."""
    try:
        bundle = _Bundle.model_validate(raw)
    except ValidationError as exc:
        errors = [_err(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise BundleError(errors) from None
    events, errors = _parse_events(bundle)
    errors.extend(_check_hashes(bundle))
    if bundle.version >= 2:
        errors.extend(bundle_versions.parse_items(bundle.versions)[1])
    if errors:
        raise BundleError(errors)
    return raw, events


def versions_of(raw: dict[str, Any]) -> list[BundleVersion]:
    """The versions a validated bundle carries ([] for a version 1 bundle)."""
    return bundle_versions.parse_items(raw.get("versions") or [])[0] if raw["version"] >= 2 else []


def to_new_events(events: list[Event], *, preserve_turn_ids: bool) -> list[dict[str, Any]]:
    """The bundle's events as new events for another session, in order.

    Ids, seqs and times ingest assigns are dropped (event ids are unique log-wide).
    Turn ids are kept with `preserve_turn_ids`, else renumbered 1..n, and the payloads
    that point at a turn (`turn.evaluated`, `model.call.recorded`) follow the renumbering.
    A branch's `session.branched` is left out: the sandbox holds the branch's whole history.
    """
    renumbered: dict[int, int] = {}
    out = []
    for event in events:
        if event.event_type in NOT_IMPORTED:
            continue
        data = event.model_dump(mode="json", exclude=_SKIPPED_ON_IMPORT)
        if event.turn_id is not None and not preserve_turn_ids:
            data["turn_id"] = renumbered.setdefault(event.turn_id, len(renumbered) + 1)
        out.append(data)
    if not preserve_turn_ids:
        for data in out:
            ref = data["payload"].get("turn_id") if data["turn_id"] is None else None
            if ref is not None and ref in renumbered:
                data["payload"]["turn_id"] = renumbered[ref]
    return out


def batches(items: list[dict[str, Any]], *, max_events: int = 500,
            max_bytes: int = 4 * 1024 * 1024) -> Iterator[list[dict[str, Any]]]:
    """Split into append requests ingest accepts (count and size limits)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        n = len(canonical(item)) + 1
        if batch and (len(batch) >= max_events or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch
