"""What a snapshot is and when one is taken: pure rules, no I/O.

A snapshot is the folded ``SessionState`` at ``at_seq`` with the SHA-256 of its
canonical JSON. Two snapshots of the same state have the same hash, which is how
the store keeps one row per distinct state per session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lifeline_events import Event, SessionState, SnapshotCreated, content_hash, new_event_id

Trigger = Literal["periodic", "finished", "on_demand", "import"]


@dataclass(frozen=True)
class SnapshotDraft:
    """A snapshot about to be stored: its id is fresh, its hash is of ``state``."""

    id: str
    at_seq: int
    content_hash: str
    state: dict[str, Any]
    trigger: Trigger
    label: str | None = None


@dataclass(frozen=True)
class SnapshotRow:
    """A stored snapshot, as the API and the announcer see it."""

    id: str
    tenant_id: str
    session_id: str
    at_seq: int
    content_hash: str
    label: str | None
    trigger: str
    created_at: datetime
    state: dict[str, Any] | None = None

    def summary(self, *, with_state: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "snapshot_id": self.id, "session_id": self.session_id, "at_seq": self.at_seq,
            "content_hash": self.content_hash, "label": self.label, "trigger": self.trigger,
            "created_at": self.created_at.isoformat(),
        }
        if with_state:
            out["state"] = self.state
        return out


def trigger_for(event: Event, every: int) -> Trigger | None:
    """Which automatic snapshot, if any, the state after ``event`` deserves.

    ``session.finished`` wins over a periodic boundary at the same seq: one state,
    one snapshot, and the more meaningful trigger.
    """
    if event.event_type == "session.finished":
        return "finished"
    if every > 0 and event.seq % every == 0:
        return "periodic"
    return None


def draft(state: SessionState | dict[str, Any], trigger: Trigger, label: str | None = None) -> SnapshotDraft:
    """A snapshot of ``state`` with a new time-ordered (UUID v7) id."""
    data = state.model_dump(mode="json") if isinstance(state, SessionState) else state
    return SnapshotDraft(id=str(new_event_id()), at_seq=int(data.get("seq", 0)),
                         content_hash=content_hash(data), state=data, trigger=trigger, label=label)


def announcement(row: SnapshotRow, person_id: str | None = None,
                 traceparent: str | None = None) -> Event:
    """The ``snapshot.created`` event for ``row``, carrying ``traceparent`` (its own trace).

    Its ``event_id`` is the snapshot id, so a consumer that sees it twice (publishing
    is at least once) dedupes by either; ``seq`` is the snapshot's ``at_seq``.
    """
    payload = SnapshotCreated(snapshot_id=row.id, content_hash=row.content_hash, at_seq=row.at_seq,
                              trigger=row.trigger, label=row.label)
    return Event.model_validate({
        "event_id": uuid.UUID(row.id), "event_type": "snapshot.created",
        "tenant_id": row.tenant_id, "session_id": row.session_id, "person_id": person_id,
        "seq": max(1, row.at_seq), "occurred_at": row.created_at, "recorded_at": row.created_at,
        "traceparent": traceparent, "payload": payload,
    })
