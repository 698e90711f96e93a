"""Pure rules of replay: when to snapshot, what a client is sent, how stale a state is.

No I/O here; the documents are built as bytes around the stored canonical state so
the hot path never decodes and re-encodes a whole state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

MODES = ("replay", "log", "cold")
"""The recovery ladder, in the order it is tried."""

SYNC_FIELDS = ("stage", "intent", "confirmed_facts", "summary", "objectives", "pins",
               "recent_turns", "turn_count", "last_turn_id", "finished")
"""State fields a RECOVERY_SYNC carries (besides seq, mode and staleness)."""


def snapshot_due(seq: int, every: int) -> bool:
    """Snapshots sit at fixed positions (every N-th seq), so every replica takes the same;
    `every` 0 takes none (the same meaning as snapshot's LIFELINE_SNAPSHOT_EVERY=0)."""
    return every > 0 and seq % every == 0


@dataclass(frozen=True)
class Staleness:
    """How far a served state may be behind the log.

    `replay` and `log` states are the fold of everything the source has applied;
    a `cold` state is the latest snapshot replay holds, from before the outage.
    """

    stale: bool
    as_of: str | None
    reason: str | None = None
    lag: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"stale": self.stale, "as_of": self.as_of, "reason": self.reason, "lag": self.lag}


def staleness(mode: str, as_of: str | None, reason: str | None = None, *, lag: int | None = None,
              behind: bool = False) -> Staleness:
    """Stale when served cold, or when the state is behind the log by more than the setting
    (`behind`); `lag` is the events the log holds beyond it, when known."""
    return Staleness(stale=mode == "cold" or behind, as_of=as_of or None, reason=reason, lag=lag)


def state_document(*, session_id: str, tenant_id: str, seq: int, mode: str, stale: Staleness,
                   state_json: bytes, extra: Mapping[str, Any] | None = None) -> bytes:
    """`GET state`'s body: the envelope around the stored canonical state bytes."""
    head = {"session_id": session_id, "tenant_id": tenant_id, "seq": seq, "mode": mode,
            "staleness": stale.as_dict(), **(extra or {})}
    return orjson.dumps(head)[:-1] + b',"state":' + state_json + b"}"


def recovery_sync(state: Mapping[str, Any], *, session_id: str, seq: int, mode: str, stale: Staleness,
                  profile: Any = None) -> bytes:
    """The first WebSocket message: enough state to redraw the conversation."""
    body: dict[str, Any] = {"type": "RECOVERY_SYNC", "session_id": session_id, "seq": seq, "mode": mode,
                            "staleness": stale.as_dict()}
    body.update({f: state.get(f) for f in SYNC_FIELDS})
    if state.get("room") is not None:  # a collaborative session: who is in it, who holds what
        body["room"] = state["room"]
    if profile is not None:
        body["profile"] = profile
    return orjson.dumps(body)


def event_message(seq: int, event_json: bytes) -> bytes:
    """One live event as sent on the WebSocket, wrapping the stored event JSON as is."""
    return b'{"type":"EVENT","seq":' + str(seq).encode() + b',"event":' + event_json + b"}"


def error_message(status: int, title: str, detail: str) -> bytes:
    return orjson.dumps({"type": "ERROR", "status": status, "title": title, "detail": detail})


def contiguous_after(seqs: list[int], after: int) -> int:
    """How many leading items of `seqs` continue exactly from `after` (after+1, after+2 …)."""
    count = 0
    for seq in seqs:
        if seq != after + count + 1:
            break
        count += 1
    return count
