"""Which payload model each ``event_type`` has, its current version, and upcasters.

An upcaster turns a stored event dict of ``(event_type, from_version)`` into the
shape of ``from_version + 1``; chained, they bring any old event up to the current
version before validation, so old logs replay through current code unchanged
(as eventsourcing's upcasting does). Upcasters work on the whole raw event dict —
they may move data between envelope and payload — and must be pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .collab import (
    ConflictOpened,
    ConflictResolved,
    LockAcquired,
    LockReleased,
    ParticipantJoined,
    ParticipantLeft,
    SessionBranched,
    SessionPolicySet,
)
from .errors import EventsError
from .payloads import (
    ModelAnomalyDetected,
    ModelCallRecorded,
    ModelStateChanged,
    ProfileConsolidated,
    ProfileForgotten,
    SessionFinished,
    SessionRestored,
    SessionStarted,
    SnapshotCreated,
    TurnEvaluated,
    TurnRecorded,
)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

EVENT_TYPES: dict[str, type[BaseModel]] = {
    "session.started": SessionStarted,
    "turn.recorded": TurnRecorded,
    "turn.evaluated": TurnEvaluated,
    "session.finished": SessionFinished,
    "session.restored": SessionRestored,
    "snapshot.created": SnapshotCreated,
    "profile.consolidated": ProfileConsolidated,
    "profile.forgotten": ProfileForgotten,
    "model.call.recorded": ModelCallRecorded,
    "model.state.changed": ModelStateChanged,
    "model.anomaly.detected": ModelAnomalyDetected,
    "participant.joined": ParticipantJoined,
    "participant.left": ParticipantLeft,
    "lock.acquired": LockAcquired,
    "lock.released": LockReleased,
    "session.conflict.opened": ConflictOpened,
    "session.conflict.resolved": ConflictResolved,
    "session.branched": SessionBranched,
    "session.policy.set": SessionPolicySet,
}
"""Every known event type and its payload model."""

COLLABORATION_TYPES: frozenset[str] = frozenset({
    "participant.joined", "participant.left", "lock.acquired", "lock.released",
    "session.conflict.opened", "session.conflict.resolved", "session.branched",
    "session.policy.set",
})
"""Written only by ingest's write-side routes; a producer's plain append may not carry them."""

CURRENT_SCHEMA_VERSIONS: dict[str, int] = {event_type: 1 for event_type in EVENT_TYPES}
CURRENT_SCHEMA_VERSIONS["turn.recorded"] = 2

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(EventsError):
    """An event's version cannot be brought to the current one."""


def current_version(event_type: str) -> int:
    """The schema version events of ``event_type`` are validated at."""
    return CURRENT_SCHEMA_VERSIONS[event_type]


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: register ``fn`` to upcast ``event_type`` from ``from_version``.

    Registering twice for the same key is a programming error and raises.
    """

    def decorate(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"upcaster for {event_type} v{from_version} already registered")
        _UPCASTERS[key] = fn
        return fn

    return decorate


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Return ``raw`` brought to the current version of its ``event_type``.

    A missing ``schema_version`` means 1 (the field did not exist before v2). The
    input dict is not modified. Raises ``UpcastError`` for a version newer than this
    build knows, or when an upcaster in the chain is missing.
    """
    event_type = raw.get("event_type")
    if event_type not in CURRENT_SCHEMA_VERSIONS:
        return raw
    target = CURRENT_SCHEMA_VERSIONS[event_type]
    version = raw.get("schema_version", 1)
    if version is None:
        version = 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return raw  # field validation reports it
    if version > target:
        raise UpcastError(
            f"schema_version {version} of {event_type} is newer than this build supports "
            f"({target})"
        )
    data = dict(raw)
    while version < target:
        fn = _UPCASTERS.get((event_type, version))
        if fn is None:
            raise UpcastError(f"no upcaster for {event_type} from schema_version {version}")
        data = fn(dict(data))
        version += 1
        data["schema_version"] = version
    data["schema_version"] = target
    return data


@register_upcaster("turn.recorded", 1)
def _turn_recorded_v1_content_to_text(raw: dict[str, Any]) -> dict[str, Any]:
    """v1 called the turn's text ``content`` (chat-message style); v2 calls it ``text``.

    A v1-labelled payload that already says ``text`` passes unchanged, so producers
    that never sent ``schema_version`` keep working with either spelling.
    """
    payload = raw.get("payload")
    if isinstance(payload, dict) and "content" in payload and "text" not in payload:
        payload = dict(payload)
        payload["text"] = payload.pop("content")
        raw["payload"] = payload
    return raw
