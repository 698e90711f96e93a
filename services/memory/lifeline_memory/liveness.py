"""Which observations survive ``session.restored`` and re-grades (pure).

A restore rolls the session back to what was live at the snapshot's position, nested
restores included — exactly what the shared fold does to state. A re-grade by the same
grader of the same turn replaces that grader's earlier verdict (an empty re-grade
withdraws it). Liveness is decided first, so a re-grade that a restore rolled back
lets the earlier, still-live verdict stand again, as in the fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .observe import Observation

Restore = tuple[int, int]
"""(seq of the restore event, seq of the snapshot it restored)."""


def restores_of(observations: Iterable[Observation]) -> list[Restore]:
    """The restore markers, by position."""
    out = []
    for o in observations:
        if o.kind == "restore":
            to_seq = (o.value or {}).get("to_seq", 0) if isinstance(o.value, dict) else 0
            out.append((o.seq, int(to_seq)))
    return sorted(out)


def live_at(x: int, restores: Sequence[Restore], p: float = float("inf")) -> bool:
    """Is an observation at seq ``x`` part of the session's state at position ``p``?

    Live iff no restore ``(r, s)`` has ``x < r <= p``, or, for the latest such restore,
    ``x <= s`` and it was live at ``s``. A restore claiming a snapshot at or after
    itself is read as a snapshot just before it, so the recursion always terminates.
    """
    while True:
        latest: Restore | None = None
        for r, s in restores:
            if x < r <= p:
                latest = (r, s)
        if latest is None:
            return True
        r, s = latest
        s = min(s, r - 1)
        if x > s:
            return False
        p = s


def live_observations(observations: Sequence[Observation]) -> list[Observation]:
    """Live observations after restores and grader supersession, in canonical order."""
    restores = restores_of(observations)
    live = [o for o in observations if o.kind != "restore" and live_at(o.seq, restores)]
    latest_grade: dict[tuple[str, int | None], int] = {}
    for o in live:
        if o.kind == "grade":
            key = (o.source, o.turn_id)
            latest_grade[key] = max(latest_grade.get(key, 0), o.seq)
    kept = [
        o
        for o in live
        if not o.source.startswith("grader:") or latest_grade.get((o.source, o.turn_id)) == o.seq
    ]
    return sorted(kept, key=canonical_key)


def canonical_key(o: Observation) -> tuple[int, str, str, str]:
    """The order within a session (the key, not the dataclass comparison: much cheaper)."""
    return (o.seq, o.kind, o.code, o.source)
