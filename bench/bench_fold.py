"""The events library alone: CPU µs per event to decode an envelope, fold it, dump the state.

In-process, no servers: 10,000 realistic turns (one session, mixed roles, a third with
acts, each with the salience ingest assigns) as the JSON the bus carries.
Measured with the process's CPU time (user + system), so a busy machine moves the
figures little; each figure is the median of ``BENCH_REPEATS`` (default 5) passes:
  1. decode: ``Event.from_json`` of each record (JSON, upcast, NUL check, validation);
  2. fold: ``apply`` of each event onto the running state;
  3. canonical: ``canonical_json`` of the state after each event (trace-store's snapshot).
Prints figures; asserts nothing. `BENCH_SCALE=0.1` folds 1,000 turns.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson

from lifeline_events import Event, SessionState, apply, canonical_json

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
N = max(200, int(10_000 * SCALE))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SENTENCES = [
    "Hi, I'd like to ask about veneers.",
    "Happy to help.",
    "Veneers are thin porcelain shells bonded to the front of the teeth.",
    "May I ask your budget?",
    "Around 4000 euros in total, if that is possible.",
    "Dr Smith can see you on Friday at 10.",
    "You can also write to clinic@example.com or book on https://example.com/book.",
    "that sounds good, thank you",
    "Do you offer whitening as well?",
    "We do, and it is often combined with veneers for a consistent shade.",
]


def records(n: int) -> list[bytes]:
    """``n`` turns of one session as stored events, deterministic for a given ``n``."""
    rng = random.Random(7)
    out = []
    for seq in range(1, n + 1):
        payload: dict = {"role": "user" if seq % 2 else "assistant", "intent": "service_inquiry",
                         "text": " ".join(rng.sample(SENTENCES, rng.randint(1, 4)))}
        if seq % 3 == 0:
            payload["acts"] = [{"op": "confirm_fact", "key": f"fact{seq % 40}", "value": seq}]
        payload["salience"] = round(rng.random(), 4)
        at = (T0 + timedelta(seconds=seq)).isoformat()
        out.append(orjson.dumps({
            "event_id": str(UUID(int=seq)), "event_type": "turn.recorded", "tenant_id": "t-1",
            "session_id": "s-1", "person_id": "p-1", "turn_id": seq, "seq": seq,
            "occurred_at": at, "recorded_at": at, "traceparent": None, "payload": payload,
            "schema_version": 2}))
    return out


def cpu_us_per_item(fn: Callable[[], object], n: int) -> float:
    """Median over ``REPEATS`` passes of the process CPU µs one pass spent per item."""
    samples = []
    for _ in range(REPEATS):
        start = time.process_time()
        fn()
        samples.append((time.process_time() - start) / n * 1e6)
    return statistics.median(samples)


def fold_all(events: list[Event]) -> SessionState:
    state = SessionState()
    for event in events:
        state = apply(state, event)
    return state


def fold_and_dump(events: list[Event]) -> int:
    state, size = SessionState(), 0
    for event in events:
        state = apply(state, event)
        size += len(canonical_json(state))
    return size


def main() -> None:
    raw = records(N)
    events = [Event.from_json(r) for r in raw]
    decode = cpu_us_per_item(lambda: [Event.from_json(r) for r in raw], N)
    fold = cpu_us_per_item(lambda: fold_all(events), N)
    both = cpu_us_per_item(lambda: fold_and_dump(events), N)
    state = fold_all(events)
    print(f"{N:,} turns, median of {REPEATS}, process CPU µs per event:")
    print(f"  decode (Event.from_json)          {decode:7.1f}")
    print(f"  fold (apply)                      {fold:7.1f}")
    print(f"  canonical_json of the state       {max(0.0, both - fold):7.1f}")
    print(f"  final state: {len(canonical_json(state)):,} bytes, "
          f"{len(state.summary_lines)} summary lines")


if __name__ == "__main__":
    main()
