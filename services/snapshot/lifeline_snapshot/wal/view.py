"""The WAL view: per event, was it published, and has each projection applied it?

Pure. A projection applies a session's events in seq order, so "applied" is simply
`seq <= its checkpoint`; a projection whose checkpoint is unknown (unreachable, not
deployed) reports `None` per event and is left out of the reconcile plan rather than
guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Projected:
    """One projection's position in a session: `last_seq` None when unknown."""

    status: str
    last_seq: int | None


def annotate(entries: Sequence[Mapping[str, Any]],
             projections: Mapping[str, Projected]) -> list[dict[str, Any]]:
    """ingest's WAL entries with an `applied` map per projection."""
    out = []
    for entry in entries:
        seq = int(entry["seq"])
        applied = {name: (None if p.last_seq is None else seq <= p.last_seq)
                   for name, p in projections.items()}
        out.append({**entry, "applied": applied})
    return out


def lag(last_seq: int, projections: Mapping[str, Projected]) -> dict[str, int | None]:
    """Events each projection has not applied yet (None when unknown)."""
    return {name: (None if p.last_seq is None else max(0, last_seq - p.last_seq))
            for name, p in projections.items()}


def plan(last_seq: int, unpublished: Sequence[int], projections: Mapping[str, Projected]) -> dict[str, Any]:
    """What a reconcile would do: the lowest seq to re-publish from, and why."""
    reasons: dict[str, int] = {}
    if unpublished:
        reasons["unpublished"] = min(unpublished)
    for name, p in sorted(projections.items()):
        if p.last_seq is not None and p.last_seq < last_seq:
            reasons[f"unapplied:{name}"] = p.last_seq + 1
    from_seq = min(reasons.values()) if reasons else None
    return {"needed": from_seq is not None, "from_seq": from_seq, "reasons": reasons}
