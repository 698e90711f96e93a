"""The per-event work the design itself asks of the stack, in one process: a floor.

The design (docs/architecture.md) makes ingest validate every event it accepts, score
each turn and write its canonical JSON to the log; it makes every other service a
projection that validates what it reads (five consumer groups on `lifeline.events.v1`),
and replay, snapshot and trace-store fold every event into the session state;
trace-store redacts every event before it stores it. This bench runs exactly those
library calls (the functions the services call) on the whole-stack bench's own burst
(`bench_stack.turn`, runs of 100 turns per session), with no HTTP, bus, database, event
loop or framework around them, and prints the CPU µs each costs per event and their sum
as the stack pays it.

That sum is a lower bound for any implementation of this design on these libraries
(pydantic for the envelope, the fold in Python), to hold against issue 10's whole-stack
budget: ≤ 300 CPU µs per event including PostgreSQL and Valkey (≥ 6,000 events/s on 2
cores leaves ≤ 333 µs for everything, the load generator included). Measured with the
process's CPU time, median of `BENCH_REPEATS` (default 5). Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import orjson

from bench.bench_fold import REPEATS, cpu_us_per_item
from bench.bench_stack import turn
from bench.cpu import calibration_us, record
from lifeline_events import Event, SessionState, apply
from lifeline_events.ids import new_event_id
from lifeline_ingest.domain import SessionCursor, plan_append
from lifeline_ingest.intake import parse_batch
from lifeline_tracestore.redacting import Redactor

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
RUN = 100
"""Turns per session and request, as in bench_stack's burst."""
SESSIONS = max(4, int(40 * SCALE))
CONSUMERS, FOLDS = 5, 3
"""Consumer groups on lifeline.events.v1 that decode every event; of them, those that fold."""


def _bodies() -> list[tuple[str, bytes]]:
    return [(f"s{s}", orjson.dumps({"events": [turn(s, s * RUN + t + 1) for t in range(RUN)]}))
            for s in range(SESSIONS)]


def _intake(bodies: list[tuple[str, bytes]]) -> list[list[Event]]:
    """ingest's per-event work: the body's validation, then the plan (salience, the row)."""
    now = datetime.now(UTC)
    logged = []
    for session, body in bodies:
        batch = parse_batch(body, session_id=session, tenant_id="t", max_event_bytes=64_000,
                            max_batch_events=1_000)
        rows, _ = plan_append(SessionCursor("t", session, 0), batch.events, expected_seq=None,
                              now=now, new_id=new_event_id)
        logged.append(rows)
    return logged


def _fold(runs: list[list[Event]]) -> None:
    for events in runs:
        state = SessionState()
        for event in events:
            state = apply(state, event)


def main() -> None:
    bodies = _bodies()
    n = SESSIONS * RUN
    runs = _intake(bodies)
    wire = [[e.to_json_bytes() for e in events] for events in runs]
    decoded = [[Event.from_json(raw) for raw in raws] for raws in wire]
    redactor = Redactor()
    # (the work, how many processes of the stack pay it per event, its CPU µs per event)
    parts = [
        ("ingest: validate the body, plan each row (salience, ids)", 1,
         cpu_us_per_item(lambda: _intake(bodies), n)),
        ("ingest: the row's canonical JSON", 1,
         cpu_us_per_item(lambda: [e.to_json_bytes() for r in runs for e in r], n)),
        ("a consumer's decode of the delivered JSON", CONSUMERS,
         cpu_us_per_item(lambda: [Event.from_json(raw) for raws in wire for raw in raws], n)),
        ("the session fold (apply), runs of 100", FOLDS, cpu_us_per_item(lambda: _fold(decoded), n)),
        ("trace-store's redaction of the event", 1, cpu_us_per_item(
            lambda: [redactor.events(events, raws) for events, raws in zip(decoded, wire, strict=True)], n)),
    ]
    floor = sum(us * k for _, k, us in parts)
    print(f"{n:,} turns ({SESSIONS} sessions of {RUN}), median of {REPEATS}, process CPU µs per event:")
    for name, k, us in parts:
        print(f"  {name:58s} {us:6.1f}" + (f"  × {k} = {us * k:6.1f}" if k > 1 else ""))
    print(f"  {'floor: the stack pays at least':58s} {floor:6.1f}   (no HTTP, bus, database, event loop)")
    print(f"  issue 10's whole-stack budget 300 µs leaves {300 - floor:.0f} µs for PostgreSQL, Valkey, "
          "six processes' HTTP, bus clients and event loops")
    machine = calibration_us()
    print(f"  machine: {machine:.1f} CPU µs per calibration turn; the floor is {floor / machine:.2f} turns")
    # events/s: what 2 cores could carry if the stack spent nothing else (no PostgreSQL, no Valkey)
    record("floor", "the design's per-event Python work, in process", 2e6 / floor, {"total": floor})


if __name__ == "__main__":
    main()
