"""JSON forms of `evaluate()`'s inputs (pure), stored per (intent, tick) for verify.

`/v1/admin/lifecycle/verify` decodes these and re-runs the rules; the output's SHA-256
must match the one stored when the tick ran.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lifeline_governance.evaluation import Evaluation, ModelStats
from lifeline_governance.registry import IntentSnapshot, Placement
from lifeline_governance.samples import Counters


def encode_input(snap: IntentSnapshot, stats: dict[str, ModelStats]) -> dict[str, Any]:
    """The tick's input as a jsonb value (the pool's orjson encoder walks the dataclasses)."""
    return {"snapshot": snap, "stats": stats}


def decode_input(data: dict[str, Any]) -> tuple[IntentSnapshot, dict[str, ModelStats]]:
    raw = dict(data["snapshot"])
    raw["placements"] = tuple(Placement(**p) for p in raw["placements"])
    stats = {
        m: ModelStats(Counters(**s["current"]), Counters(**s["previous"]), s["fresh_outcomes"])
        for m, s in data["stats"].items()
    }
    return IntentSnapshot(**raw), stats


def output_hash(evaluation: Evaluation) -> str:
    return hashlib.sha256(evaluation.to_json()).hexdigest()
