"""CPU per event: a measure that survives a noisy machine.

Events/s on 2 cores shared with other work swings 10–40 % between runs; the CPU time a
process spent on a burst barely moves, because time it waited for a core is not
counted. So every bench reports, next to events/s, the user + system CPU of each
process involved (a service, PostgreSQL with all its backends, Valkey) over the
measured burst, divided by the events that burst handled: **CPU µs per event**.

A process tree is counted whole: the root, every live descendant, and the children it
has already reaped (`children_user/system`), so PostgreSQL backends that come and go
during the burst are not lost. `SUMMARY` collects each bench's rows; `summary_table()`
prints them, and `make bench` ends with it (bench_summary.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.bench_fold import records
from lifeline_events import Event, SessionState, apply, canonical_json

# Each bench appends its rows here (one JSON object a line); bench_summary prints them.
SUMMARY_FILE = Path(os.environ.get("BENCH_SUMMARY", "/tmp/lifeline-bench-summary.jsonl"))


def tree_cpu_seconds(pid: int) -> float:
    """user + system seconds of `pid`, its live descendants and its reaped children."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in root.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return 0.0


def server_pid(server: object) -> int | None:
    """The pid of an embedded server started by lifeline_servers (None if not ours)."""
    process = getattr(getattr(server, "control", None), "process", None)
    return getattr(process, "pid", None)


def pids_of(**named: object) -> dict[str, int]:
    """Name → pid of service processes (`.proc.pid`) and embedded servers, where known."""
    found: dict[str, int] = {}
    for name, thing in named.items():
        proc = getattr(thing, "proc", None)
        pid = getattr(proc, "pid", None) if proc is not None else server_pid(thing)
        if pid is not None:
            found[name] = pid
    return found


def find_pids(root_pid: int | None = None) -> dict[str, int]:
    """Name → pid of the Lifeline services, PostgreSQL's postmaster and Valkey.

    Looks below `root_pid` (the launcher) when given, otherwise at every process. A
    service is `python -m lifeline_<name>`; the postmaster is the postgres process
    whose parent is not postgres.
    """
    procs: Iterable[psutil.Process]
    procs = psutil.Process(root_pid).children(recursive=True) if root_pid else psutil.process_iter()
    found: dict[str, int] = {}
    for p in procs:
        try:
            cmd, name = p.cmdline(), p.name()
            parent = p.parent()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "-m" in cmd and (module := cmd[cmd.index("-m") + 1]).startswith("lifeline_"):
            found[module.removeprefix("lifeline_")] = p.pid
        elif name == "postgres" and (parent is None or parent.name() != "postgres"):
            found["postgres"] = p.pid
        elif name.startswith("valkey-server") or name.startswith("redis-server"):
            found["valkey"] = p.pid
        elif name.startswith("tansu"):  # the binary is named tansu-v<version>-<hash>
            found["tansu"] = p.pid
    return found


@dataclass
class CpuMeter:
    """CPU seconds per named process tree between `start()` and `stop()`."""

    pids: dict[str, int]
    before: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def start(self) -> CpuMeter:
        self.before = {n: tree_cpu_seconds(p) for n, p in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.spent = {n: tree_cpu_seconds(p) - self.before[n] for n, p in self.pids.items()}
        return self.spent

    def per_event_us(self, events: int) -> dict[str, float]:
        """CPU µs per event for each tree, plus `total`."""
        per = {n: s * 1e6 / max(1, events) for n, s in self.spent.items()}
        per["total"] = sum(per.values())
        return per


def calibration_us(turns: int = 300, repeats: int = 5) -> float:
    """The machine's speed now: CPU µs this process spends per turn on a fixed slice of
    Lifeline's own work (decode, fold and canonical dump of `turns` turns of bench_fold's
    session; the least disturbed of `repeats` passes).

    CPU µs per event leaves out time spent waiting for a core, but not a core that runs
    slower (a busy hyperthread sibling, a throttled host): on a shared machine the same work
    has cost up to 1.5× more CPU from one minute to the next, in every process at once.
    Dividing a figure by this one (taken on the idle stack right before and after the load)
    gives it in "calibration turns", comparable across such drift and across machines — not
    across commits that change the decode, the fold or `canonical_json`: the yardstick is
    that code, so it moves with it (the seventh pass's A/B: 46-49 µs before, 41-43 after).
    """
    raw = records(turns)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        state = SessionState()
        for body in raw:
            state = apply(state, Event.from_json(body))
            canonical_json(state)
        best = min(best, time.process_time() - start)
    return best / turns * 1e6


def format_cpu(per_event: dict[str, float]) -> str:
    """`ingest 38 · postgres 21 · total 59 µs/event` (largest first, total last)."""
    parts = sorted(((n, v) for n, v in per_event.items() if n != "total"), key=lambda x: -x[1])
    return " · ".join(f"{n} {v:,.0f}" for n, v in parts) + f" · total {per_event['total']:,.0f} CPU µs/event"


def record(bench: str, path: str, events_per_s: float, per_event: dict[str, float],
           extra: dict[str, float] | None = None) -> None:
    """Print-ready row for the end-of-`make bench` table."""
    row = {"bench": bench, "path": path, "events_per_s": events_per_s, "cpu_us": per_event,
           **(extra or {})}
    with SUMMARY_FILE.open("a") as f:
        f.write(json.dumps(row) + "\n")
