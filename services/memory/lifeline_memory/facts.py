"""Keyed, bi-temporal facts across sessions (pure).

A new value for a key supersedes the old one and moves it to ``history`` with its
validity interval; a retraction ends validity without deleting history; other keys
are never touched (unlike stores where one contradiction retires unrelated facts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .canonical import parse_iso

MAX_KEYS = 256
MAX_HISTORY = 20


def fold_facts(
    sessions: Sequence[dict[str, Any]], as_of: datetime, stale_days: float, evidence_per_item: int
) -> list[dict[str, Any]]:
    """``sessions`` are digests oldest first; returns one entry per key, first-seen order."""
    timeline: list[tuple[str, str, int, dict[str, Any]]] = []
    for d in sessions:
        for f in d["facts"]:
            timeline.append((d["finished_at"], d["session_id"], f["seq"], f))
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    keys: dict[str, dict[str, Any]] = {}
    for _finished, session_id, _seq, f in timeline:
        key = f["key"]
        if key not in keys:
            if f["retracted"] or len(keys) >= MAX_KEYS:  # retracting the unknown: nothing to end
                continue
            keys[key] = {"current": None, "history": [], "confirmations": []}
        _step(keys[key], session_id, f)
    return [_entry(key, k, as_of, stale_days, evidence_per_item) for key, k in keys.items()]


def _step(k: dict[str, Any], session_id: str, f: dict[str, Any]) -> None:
    cur = k["current"]
    at = f["occurred_at"]
    if f["retracted"]:
        if cur is not None:
            k["history"].append({**cur, "valid_to": at, "ended_by": "retracted"})
            k["current"] = None
        return
    evidence = {
        **{n: f[n] for n in ("turn_id", "seq", "event_id", "source", "recorded_at")},
        "session_id": session_id,
    }
    k["confirmations"].append(evidence)
    if cur is not None and cur["value"] == f["value"]:
        cur["last_confirmed"] = at
        return
    if cur is not None:
        k["history"].append({**cur, "valid_to": at, "ended_by": "superseded"})
    k["current"] = {"value": f["value"], "valid_from": at, "last_confirmed": at, "session_id": session_id}


def _entry(
    key: str, k: dict[str, Any], as_of: datetime, stale_days: float, evidence_per_item: int
) -> dict[str, Any]:
    cur = k["current"]
    history = [
        {
            "value": h["value"],
            "valid_from": h["valid_from"],
            "valid_to": h["valid_to"],
            "session_id": h["session_id"],
            "ended_by": h["ended_by"],
        }
        for h in reversed(k["history"][-MAX_HISTORY:])
    ]
    stale = False
    if cur is not None:
        age_days = (as_of - parse_iso(cur["last_confirmed"])).total_seconds() / 86400
        stale = age_days > stale_days
    return {
        "key": key,
        "value": None if cur is None else cur["value"],
        "retracted": cur is None,
        "valid_from": None if cur is None else cur["valid_from"],
        "last_confirmed": None if cur is None else cur["last_confirmed"],
        "session_id": None if cur is None else cur["session_id"],
        "stale": stale,
        "evidence": list(reversed(k["confirmations"]))[:evidence_per_item],
        "history": history,
    }
