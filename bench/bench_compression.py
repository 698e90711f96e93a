"""Stored-snapshot compression: ratio and MB/s per algorithm on real folded session states.

In-process, no servers. 24 tabletop sessions of 200 turns (a DM and three players: facts
confirmed and retracted, objectives set and completed, pins, episodes, stage changes),
folded with `lifeline_events.fold`; the state after turns 50, 100, 150 and 200 of each is
a snapshot, as the snapshot service stores it (canonical JSON through
`lifeline_store.compression`, the same levels). Speeds are process CPU time (user +
system), so a busy machine moves them little; each is the median of ``BENCH_REPEATS``
(default 5) passes over all states. MB is 10^6 bytes of uncompressed JSON. Also prints
the MessagePack size of the same states (what `Accept: application/msgpack` carries).
Prints figures and summary rows (snapshots/s, CPU µs per snapshot); asserts nothing.
`BENCH_SCALE=0.25` folds 6 sessions.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgpack
import orjson

from bench.cpu import record
from lifeline_events import Event, canonical_json, fold
from lifeline_store.compression import ALGORITHMS, compress, decompress

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
SESSIONS = max(2, int(24 * SCALE))
TURNS = 200
CUTS = (50, 100, 150, 200)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEAKERS = ("dm", "p-aria", "p-brom", "p-cass")
PLACES = ("the ruined keep", "Saltmarsh docks", "the Sunless Citadel", "an inn at Phandalin",
          "the feywild gate")
LINES = (
    "I search the altar for hidden compartments.",
    "Roll for perception, the torchlight flickers across old runes.",
    "Brom casts guidance on Aria before she picks the lock.",
    "The goblin chief demands forty gold pieces and the silver dagger.",
    "Cass asks the innkeeper about the missing caravan from Neverwinter.",
    "You notice fresh tracks leading north towards the hills.",
    "We take a short rest and Aria spends two hit dice.",
    "The door is barred from the other side; you hear chanting.",
    "I want to persuade the guard that we are envoys of the duke.",
    "Initiative order: Cass 17, goblins 14, Brom 11, Aria 6.",
)


def _acts(rng: random.Random, t: int) -> list[dict]:
    acts: list[dict] = [{"op": "confirm_fact", "key": f"{rng.choice(SPEAKERS)}.{rng.randint(0, 40)}",
                         "value": rng.choice(LINES)[:40]}]
    if t % 5 == 0:
        acts.append({"op": "set_objective", "id": f"quest{t % 23}", "text": f"reach {rng.choice(PLACES)}",
                     "priority": rng.randint(0, 3)})
    if t % 11 == 0:
        acts.append({"op": "complete_objective", "id": f"quest{(t - 5) % 23}"})
    if t % 7 == 0:
        acts.append({"op": "pin", "id": f"pin{t % 9}", "text": rng.choice(LINES)})
    if t % 3 == 0:
        acts.append({"op": "add_episode", "text": f"{rng.choice(SPEAKERS)}: {rng.choice(LINES)}",
                     "salience": round(rng.random(), 3)})
    if t % 13 == 0:
        acts.append({"op": "retract_fact", "key": f"{rng.choice(SPEAKERS)}.{rng.randint(0, 40)}"})
    if t % 40 == 0:
        acts.append({"op": "set_stage", "stage": rng.choice(PLACES)})
    return acts


def session_events(n: int) -> list[Event]:
    """One 200-turn session, deterministic for a given ``n``."""
    rng = random.Random(n)
    events = []
    for t in range(1, TURNS + 1):
        at = (T0 + timedelta(minutes=n, seconds=t)).isoformat()
        events.append(Event.model_validate({
            "event_id": str(UUID(int=n * 1000 + t)), "event_type": "turn.recorded", "tenant_id": "t-1",
            "session_id": f"table-{n}", "person_id": SPEAKERS[t % 4], "turn_id": t, "seq": t,
            "occurred_at": at, "recorded_at": at, "traceparent": None,
            "payload": {"role": "assistant" if t % 4 == 0 else "user",
                        "text": " ".join(rng.sample(LINES, rng.randint(1, 3))), "acts": _acts(rng, t)}}))
    return events


def snapshot_states() -> list[bytes]:
    """The canonical JSON of each session's state at every cut."""
    states = []
    for n in range(SESSIONS):
        events = session_events(n)
        states.extend(canonical_json(fold(events[:cut])) for cut in CUTS)
    return states


def cpu_seconds(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main() -> None:
    states = snapshot_states()
    raw = sum(len(s) for s in states)
    packed = sum(len(msgpack.packb(orjson.loads(s))) for s in states)
    print(f"{len(states)} snapshot states ({SESSIONS} sessions x {len(CUTS)} cuts of {TURNS} turns), "
          f"{raw / len(states):,.0f} bytes of canonical JSON on average; MessagePack "
          f"{packed / raw:.2f}x the JSON size; median of {REPEATS}, process CPU:")
    print(f"  {'algorithm':<9} {'ratio':>6} {'avg bytes':>10} {'compress MB/s':>14} {'decompress MB/s':>16}")
    for algorithm in ALGORITHMS:
        if algorithm == "none":
            continue
        blobs = [compress(s, algorithm) for s in states]
        size = sum(len(b) for b in blobs)
        down = cpu_seconds(lambda a=algorithm: [compress(s, a) for s in states])
        up = cpu_seconds(lambda a=algorithm, bs=blobs: [decompress(b, a) for b in bs])
        print(f"  {algorithm:<9} {raw / size:>5.1f}x {size / len(states):>10,.0f} "
              f"{raw / 1e6 / down:>14,.0f} {raw / 1e6 / up:>16,.0f}")
        for path, seconds in (("compress", down), ("decompress", up)):
            record("compression", f"{algorithm} {path} (ratio {raw / size:.1f}x)", len(states) / seconds,
                   {"total": seconds * 1e6 / len(states)})


if __name__ == "__main__":
    main()
